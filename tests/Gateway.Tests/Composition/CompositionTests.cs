using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Configuration;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Composition;

public sealed class CompositionTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A gateway file with clusters "svc" (and "dead", which refuses connections) and the given compositions.</summary>
    private static string Config(Uri backend, string compositions)
    {
        var node = JsonNode.Parse(GatewayJson.Create([], [("svc", [backend]), ("dead", [new Uri($"http://127.0.0.1:{Ports.GetFreeTcpPort()}/")])]))!;
        node["Portico"] = new JsonObject { ["Compositions"] = JsonNode.Parse(compositions) };
        return node.ToJsonString();
    }

    private sealed class Timeline
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        public ConcurrentDictionary<string, (double Start, double End)> Spans { get; } = new();

        public async Task<IResult> Record(string name, int delayMs, object body)
        {
            var start = _clock.Elapsed.TotalMilliseconds;
            await Task.Delay(delayMs);
            Spans[name] = (start, _clock.Elapsed.TotalMilliseconds);
            return Results.Json(body);
        }
    }

    [Fact]
    public async Task Graph_StepWaitsForWhatItReads_IndependentStepRunsAlongside()
    {
        var timeline = new Timeline();
        await using var backend = await TestBackend.StartAsync("svc", app =>
        {
            app.MapGet("/a", () => timeline.Record("A", 200, new { id = 7 }));
            app.MapGet("/b/{id}", (int id) => timeline.Record("B", 50, new { seen = id }));
            app.MapGet("/c", () => timeline.Record("C", 100, new { c = true }));
        });
        const string compositions = """
        { "graph": { "Method": "GET", "Path": "/graph", "AuthorizationPolicy": "anonymous", "Steps": {
            "a": { "Cluster": "svc", "Path": "/a" },
            "b": { "Cluster": "svc", "Path": "/b/{{steps.a.body.id}}" },
            "c": { "Cluster": "svc", "Path": "/c" } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));

        using var response = await gateway.Client.GetAsync("/graph", Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        var (a, b, c) = (timeline.Spans["A"], timeline.Spans["B"], timeline.Spans["C"]);
        output.WriteLine($"A {a.Start:0}-{a.End:0} ms, B {b.Start:0}-{b.End:0} ms, C {c.Start:0}-{c.End:0} ms");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(7, body.RootElement.GetProperty("b").GetProperty("seen").GetInt32());
        Assert.True(b.Start >= a.End, "B started after A finished");
        Assert.True(c.Start < a.End, "C ran alongside A");
    }

    [Fact]
    public async Task ThreeIndependentSteps_Of200Ms_RunInParallel()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/slow/{n}", async (int n) =>
        {
            await Task.Delay(200);
            return Results.Json(new { n });
        }));
        const string compositions = """
        { "fan": { "Path": "/fan", "AuthorizationPolicy": "anonymous", "Steps": {
            "one": { "Cluster": "svc", "Path": "/slow/1" }, "two": { "Cluster": "svc", "Path": "/slow/2" }, "three": { "Cluster": "svc", "Path": "/slow/3" } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));
        await gateway.Client.GetAsync("/fan", Ct); // warm connections

        var clock = Stopwatch.StartNew();
        using var response = await gateway.Client.GetAsync("/fan", Ct);
        var elapsed = clock.Elapsed;

        output.WriteLine($"three 200 ms steps took {elapsed.TotalMilliseconds:0} ms in total");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Not a performance bound: one after another would take at least 600 ms.
        Assert.True(elapsed < TimeSpan.FromMilliseconds(550), $"took {elapsed}");
    }

    [Fact]
    public async Task RequiredStepFails_AfterOrderCreated_OrderIsCancelled_AndTheErrorNamesTheStep()
    {
        var cancelled = new ConcurrentBag<string>();
        await using var backend = await TestBackend.StartAsync("svc", app =>
        {
            app.MapPost("/orders", async (HttpRequest r) =>
            {
                using var doc = await JsonDocument.ParseAsync(r.Body);
                return Results.Json(new { id = "ord-1", total = 50000, items = doc.RootElement.GetProperty("items").GetArrayLength() }, statusCode: 201);
            });
            app.MapPost("/orders/{id}/cancel", (string id) =>
            {
                cancelled.Add(id);
                return Results.Ok();
            });
            app.MapPost("/points", () => Results.StatusCode(500));
        });
        const string compositions = """
        { "purchase": { "Method": "POST", "Path": "/purchases", "AuthorizationPolicy": "anonymous", "Steps": {
            "order": { "Cluster": "svc", "Method": "POST", "Path": "/orders", "Body": { "items": "{{request.body.items}}" },
                       "Compensate": { "Method": "POST", "Path": "/orders/{{steps.order.body.id}}/cancel" } },
            "points": { "Cluster": "svc", "Method": "POST", "Path": "/points",
                        "Body": { "orderId": "{{steps.order.body.id}}", "amount": "{{steps.order.body.total}}" } } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));

        using var response = await gateway.Client.PostAsJsonAsync("/purchases", new { items = new[] { new { productId = 1, quantity = 2 } } }, Ct);
        var problem = await response.Content.ReadAsStringAsync(Ct);

        output.WriteLine(problem);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(problem);
        Assert.Equal("points", json.RootElement.GetProperty("step").GetString());
        Assert.Equal("order", json.RootElement.GetProperty("compensated")[0].GetString());
        Assert.Equal(["ord-1"], cancelled);
    }

    /// <summary>
    /// A composition that is not durable: an order (compensated by a cancel), then points marked Idempotent whose
    /// upstream applies each call and then resets the connection before replying, for the first <paramref name="lost"/> calls.
    /// </summary>
    private static async Task<(HttpResponseMessage Response, string Body, int PointCalls, int Applied, string[] Cancelled)> PurchaseWithLostRepliesAsync(int lost)
    {
        var cancelled = new ConcurrentBag<string>();
        var applied = new ConcurrentDictionary<string, bool>();
        var calls = 0;
        await using var backend = await TestBackend.StartAsync("svc", app =>
        {
            app.MapPost("/orders", () => Results.Json(new { id = "ord-1", total = 50000 }, statusCode: 201));
            app.MapPost("/orders/{id}/cancel", (string id) =>
            {
                cancelled.Add(id);
                return Results.Ok();
            });
            app.MapPost("/points", (HttpContext context) =>
            {
                applied.TryAdd("ord-1", true); // applied once, by order id, however often it comes
                if (Interlocked.Increment(ref calls) <= lost)
                {
                    context.Abort(); // the connection is reset: the reply never leaves
                    return Results.Empty;
                }
                return Results.Json(new { pointsEarned = 500 });
            });
        });
        const string compositions = """
        { "purchase": { "Method": "POST", "Path": "/purchases", "AuthorizationPolicy": "anonymous", "Steps": {
            "order": { "Cluster": "svc", "Method": "POST", "Path": "/orders",
                       "Compensate": { "Method": "POST", "Path": "/orders/{{steps.order.body.id}}/cancel" } },
            "points": { "Cluster": "svc", "Method": "POST", "Path": "/points", "Idempotent": true, "Timeout": "00:00:02", "AttemptTimeout": "00:00:01",
                        "Body": { "orderId": "{{steps.order.body.id}}" } } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));
        var response = await gateway.Client.PostAsJsonAsync("/purchases", new { }, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        return (response, body, Volatile.Read(ref calls), applied.Count, [.. cancelled]);
    }

    [Fact]
    public async Task NotDurable_IdempotentStepsReplyLost_IsSentAgain_AndNothingIsUndone()
    {
        var (response, body, pointCalls, applied, cancelled) = await PurchaseWithLostRepliesAsync(lost: 1);
        using var _ = response;

        output.WriteLine($"{(int)response.StatusCode} {body}; points calls {pointCalls}, applied {applied}, cancelled [{string.Join(", ", cancelled)}]");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((2, 1), (pointCalls, applied));
        Assert.Empty(cancelled);
    }

    [Fact]
    public async Task NotDurable_IdempotentStepsOutcomeUnknownForItsWholeBudget_UndoesNothing_AndSaysSo()
    {
        // Before: the unknown outcome counted as a failure and the order was cancelled, although the points went through.
        var (response, body, pointCalls, applied, cancelled) = await PurchaseWithLostRepliesAsync(lost: int.MaxValue);
        using var _ = response;

        output.WriteLine($"{(int)response.StatusCode} {body}; points calls {pointCalls}, applied {applied}, cancelled [{string.Join(", ", cancelled)}]");
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("https://portico.dev/problems/composition-outcome-unknown", json.RootElement.GetProperty("type").GetString());
        Assert.Equal("points", json.RootElement.GetProperty("step").GetString());
        Assert.Equal("order", json.RootElement.GetProperty("succeeded")[0].GetString());
        Assert.True(pointCalls >= 2, $"sent {pointCalls} time(s) within the budget");
        Assert.Empty(cancelled);
    }

    [Fact]
    public async Task OptionalStepDown_Answers200_WithPartial()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/weather", () => Results.Json(new { sky = "clear" })));
        const string compositions = """
        { "home": { "Path": "/home", "AuthorizationPolicy": "anonymous", "Steps": {
            "weather": { "Cluster": "svc", "Path": "/weather" },
            "balance": { "Cluster": "dead", "Path": "/balance", "Required": false } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));

        using var response = await gateway.Client.GetAsync("/home", Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("balance", response.Headers.GetValues("Portico-Partial").Single());
        Assert.Equal("balance", body.RootElement.GetProperty("partial")[0].GetString());
        Assert.Equal("clear", body.RootElement.GetProperty("weather").GetProperty("sky").GetString());
    }

    [Fact]
    public async Task ClientAbort_CancelsTheCallsInFlight()
    {
        var sawCancellation = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/long", async (CancellationToken ct) =>
        {
            arrived.TrySetResult();
            try
            {
                await Task.Delay(10_000, ct);
            }
            catch (OperationCanceledException)
            {
                sawCancellation.TrySetResult();
                throw;
            }
            return Results.Ok();
        }));
        const string compositions = """
        { "long": { "Path": "/long", "AuthorizationPolicy": "anonymous", "Timeout": "00:00:30", "Steps": {
            "wait": { "Cluster": "svc", "Path": "/long", "Timeout": "00:00:30" } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));

        using var abort = new CancellationTokenSource();
        var call = gateway.Client.GetAsync("/long", abort.Token);
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await abort.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        var finished = await Task.WhenAny(sawCancellation.Task, Task.Delay(10_000, Ct));
        Assert.Same(sawCancellation.Task, finished);
    }

    [Fact]
    public async Task TemplateValues_WithDotsQuotesOrJson_CannotChangeThePathOrTheBodyStructure()
    {
        var seen = new ConcurrentBag<(string Path, string Body)>();
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapPost("/items/{**rest}", async (HttpRequest r) =>
        {
            seen.Add((r.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget, await new StreamReader(r.Body).ReadToEndAsync()));
            return Results.Ok();
        }));
        const string compositions = """
        { "echo": { "Method": "POST", "Path": "/echo", "AuthorizationPolicy": "anonymous", "Steps": {
            "save": { "Cluster": "svc", "Method": "POST", "Path": "/items/{{request.query.id}}/detail",
                      "Body": { "name": "{{request.query.name}}", "note": "by {{request.query.name}}", "admin": false } } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));
        const string evil = "x\",\"admin\":true,\"y\":\"";

        using var response = await gateway.Client.PostAsync($"/echo?id={Uri.EscapeDataString("../../admin")}&name={Uri.EscapeDataString(evil)}", null, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (path, body) = Assert.Single(seen);
        output.WriteLine($"upstream saw {path} with {body}");
        Assert.Equal("/items/..%2F..%2Fadmin/detail", path);
        using var json = JsonDocument.Parse(body);
        Assert.Equal(evil, json.RootElement.GetProperty("name").GetString());
        Assert.Equal("by " + evil, json.RootElement.GetProperty("note").GetString());
        Assert.False(json.RootElement.GetProperty("admin").GetBoolean());
        Assert.Equal(3, json.RootElement.EnumerateObject().Count());
    }

    [Fact]
    public async Task DotSegment_AsATemplateValue_IsRejectedWith400_AndNothingIsSent()
    {
        var seen = new ConcurrentBag<string>();
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/{**rest}", (HttpContext c) =>
        {
            seen.Add(c.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()!.RawTarget);
            return Results.Ok();
        }));
        const string compositions = """
        { "dots": { "Path": "/dots", "AuthorizationPolicy": "anonymous", "Steps": { "get": { "Cluster": "svc", "Path": "/a/{{request.query.v}}/b" } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));

        using var response = await gateway.Client.GetAsync("/dots?v=..", Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(seen);
    }

    [Fact]
    public async Task Start_WithCycleUnknownReferencesAndClusters_FailsListingThemAll()
    {
        const string compositions = """
        { "bad": { "Path": "/bad", "Steps": {
            "a": { "Cluster": "svc", "Path": "/a/{{steps.b.body.id}}" },
            "b": { "Cluster": "svc", "Path": "/b/{{steps.a.body.id}}" },
            "c": { "Cluster": "nowhere", "Path": "/c/{{steps.ghost.body.id}}" },
            "d": { "Cluster": "svc", "Path": "/d", "Compensate": { "Method": "POST", "Path": "/undo/{{steps.c.body.id}}" } } },
          "Response": { "x": "{{steps.phantom.body}}" } } }
        """;

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(Config(new Uri("http://127.0.0.1:9/"), compositions)));

        output.WriteLine(ex.Message);
        Assert.Contains(ex.Errors, e => e.Contains("cycle", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("unknown step 'ghost'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("unknown cluster 'nowhere'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("compensation of step 'd' reads step 'c'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("unknown step 'phantom'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Body_OverTheCompositionsLimit_Is413_DeclaredOrStreamed_AndNothingIsSent()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapPost("/x", () => Results.Json(new { ok = true })));
        const string compositions = """
        { "small": { "Method": "POST", "Path": "/small", "AuthorizationPolicy": "anonymous", "MaxRequestBodySize": 100,
            "Steps": { "x": { "Cluster": "svc", "Method": "POST", "Path": "/x", "Body": { "v": "{{request.body.v}}" } } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));
        var big = "{\"v\":\"" + new string('a', 500) + "\"}";

        using var declared = await gateway.Client.PostAsync("/small", new StringContent(big, System.Text.Encoding.UTF8, "application/json"), Ct);
        // A stream of unknown length goes out chunked: no Content-Length to refuse it by.
        using var streamed = await gateway.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/small")
        {
            Content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(big))) { Headers = { { "Content-Type", "application/json" } } },
        }, Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.Equal(0, backend.RequestCount);
    }

    [Fact]
    public async Task Composition_WithoutPolicy_NeedsAToken()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/x", () => Results.Json(new { ok = true })));
        const string compositions = """{ "mine": { "Path": "/mine", "Steps": { "x": { "Cluster": "svc", "Path": "/x" } } } }""";
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));

        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.Client.GetAsync("/mine", Ct)).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mine");
        request.Headers.Authorization = new("Bearer", gateway.Tokens.CreateToken());
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.SendAsync(request, Ct)).StatusCode);
        Assert.Equal(1, backend.RequestCount);
    }

    [Theory]
    [InlineData("/home", "Seoul")]
    [InlineData("/home?city=Busan", "Busan")]
    public async Task QueryReference_WithADefault_UsesTheDefaultOnlyWhenAbsent(string path, string expected)
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/weather", (string city) => Results.Json(new { city })));
        const string compositions = """
        { "home": { "Path": "/home", "AuthorizationPolicy": "anonymous", "Steps": {
            "weather": { "Cluster": "svc", "Path": "/weather", "Query": { "city": "{{request.query.city ?? 'Seoul'}}" } } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));

        using var body = JsonDocument.Parse(await gateway.Client.GetStringAsync(path, Ct));

        Assert.Equal(expected, body.RootElement.GetProperty("weather").GetProperty("city").GetString());
    }

    [Theory]
    [InlineData("/home?q=%EA%B0%90", true)]
    [InlineData("/home?q=", false)]
    [InlineData("/home", false)]
    public async Task AStepWhenQuery_RunsOnlyWhenTheRequestHasThatParameter(string path, bool runs)
    {
        await using var backend = await TestBackend.StartAsync("svc", app =>
        {
            app.MapGet("/featured", () => Results.Json(new[] { "keyboard" }));
            app.MapGet("/complete", (string q) => Results.Json(new { q }));
        });
        const string compositions = """
        { "home": { "Path": "/home", "AuthorizationPolicy": "anonymous", "Steps": {
            "featured": { "Cluster": "svc", "Path": "/featured" },
            "suggestions": { "Cluster": "svc", "Path": "/complete", "Query": { "q": "{{request.query.q}}" }, "When": "query:q", "Required": false } } } }
        """;
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address, compositions));

        using var response = await gateway.Client.GetAsync(path, Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(runs, body.RootElement.TryGetProperty("suggestions", out var suggestions));
        if (runs)
        {
            Assert.Equal("감", suggestions.GetProperty("q").GetString());
        }
        Assert.False(body.RootElement.TryGetProperty("partial", out _)); // left out, not missing
        Assert.Equal(runs ? 2 : 1, backend.RequestCount);
    }
}

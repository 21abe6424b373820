using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Portico.Gateway.Transcoding;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Transcoding;

/// <summary>
/// What a gRPC call the gateway makes tells the service, for a transcoded route and for a composition's gRPC step: its
/// deadline (<c>grpc-timeout</c>, from the route's or step's timeout; 504 when it passes), the caller's token, and the
/// W3C trace context (<c>traceparent</c>, <c>tracestate</c>) of the request it serves. The services are real gRPC
/// servers (<see cref="ThingsServer"/>); the gateway's clock is a <see cref="FakeTimeProvider"/> where a deadline must pass.
/// </summary>
public sealed class GrpcCallMetadataTests(ITestOutputHelper output)
{
    private const string Service = "portico.test.v1.Things";

    // W3C Trace Context §3.2 and §3.3: the example values of the specification.
    private const string TraceId = "0af7651916cd43dd8448eb211c80319c";
    private const string TraceParent = "00-" + TraceId + "-b7ad6b7169203331-01";
    private const string TraceState = "congo=t61rcWkgMzE";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TranscodedCall_SendsTheEntrysTimeoutAsGrpcTimeout_AndAnswers504ProblemWhenItPasses()
    {
        await using var things = await ThingsServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await GatewayTestHost.StartAsync(
            DynamicTranscodingTests.Config(things.Address, new JsonObject { ["Timeout"] = "00:00:08" }), time);

        var answer = DynamicTranscodingTests.SendAsync(gateway, HttpMethod.Get, "/api/wait/1");
        var (header, left) = await SeenAsync(things.Service.Deadlines);
        output.WriteLine($"grpc-timeout: {header}, left: {left}");
        Assert.NotEmpty(header);
        Assert.InRange(left, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(8));

        time.Advance(TimeSpan.FromSeconds(9)); // the gateway's clock passes the deadline; the service still stalls
        var (status, body, type) = await answer;

        output.WriteLine(body);
        Assert.Equal((HttpStatusCode.GatewayTimeout, "application/problem+json"), (status, type));
        Assert.Contains("DEADLINE_EXCEEDED", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TranscodedCall_EachAttempt_IsToldWhatIsLeftOfTheDeadline_AtMostThePolicysAttemptTimeout()
    {
        await using var things = await ThingsServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // The entry allows 15 seconds; the built-in default policy gives each attempt 10 and retries a read twice.
        await using var gateway = await GatewayTestHost.StartAsync(
            DynamicTranscodingTests.Config(things.Address, new JsonObject { ["Timeout"] = "00:00:15" }), time);

        var answer = DynamicTranscodingTests.SendAsync(gateway, HttpMethod.Get, "/api/wait/1");
        var first = await SeenAsync(things.Service.Deadlines, 1);
        time.Advance(TimeSpan.FromSeconds(10)); // the first attempt times out; the retry comes after a short backoff
        var second = await SeenAsync(things.Service.Deadlines, 2, () => time.Advance(TimeSpan.FromMilliseconds(50)));

        output.WriteLine($"first: {first}, second: {second}");
        Assert.InRange(first.Left, TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(10));
        Assert.InRange(second.Left, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(5));
        var (status, body, _) = await answer;
        output.WriteLine(body);
        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        Assert.Equal(2, things.Service.Deadlines.Count);
    }

    [Fact]
    public async Task TranscodedCall_Deadline_IsCutToTheClusterPolicysTimeout_WhenThatIsShorter()
    {
        await using var things = await ThingsServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var config = JsonNode.Parse(DynamicTranscodingTests.Config(things.Address, new JsonObject { ["Timeout"] = "00:01:00" }))!;
        config["ReverseProxy"]!["Clusters"]!["things"]!["Metadata"] = new JsonObject { ["Portico.Resilience"] = "short" };
        config["Portico"]!["Resilience"] = new JsonObject { ["Policies"] = new JsonObject { ["short"] = new JsonObject { ["Timeout"] = "00:00:04" } } };
        await using var gateway = await GatewayTestHost.StartAsync(config.ToJsonString(), time);

        var answer = DynamicTranscodingTests.SendAsync(gateway, HttpMethod.Get, "/api/wait/1");
        var (header, left) = await SeenAsync(things.Service.Deadlines);

        output.WriteLine($"grpc-timeout: {header}, left: {left}");
        Assert.InRange(left, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(HttpStatusCode.GatewayTimeout, (await answer).Status);
    }

    [Fact]
    public async Task CompositionGrpcStep_SendsTheStepsTimeoutAsGrpcTimeout_AndTheCompositionAnswers504WhenItPasses()
    {
        await using var things = await ThingsServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var config = JsonNode.Parse(DynamicTranscodingTests.Config(things.Address))!;
        config["Portico"]!["Compositions"] = JsonNode.Parse($$$"""
        { "stall": { "Path": "/api/stall", "AuthorizationPolicy": "anonymous", "Timeout": "00:00:20", "Steps": {
            "wait": { "Cluster": "things", "Grpc": "{{{Service}}}/Wait", "Body": { "id": "1" }, "Timeout": "00:00:06" } } } }
        """);
        await using var gateway = await GatewayTestHost.StartAsync(config.ToJsonString(), time);

        var answer = DynamicTranscodingTests.SendAsync(gateway, HttpMethod.Get, "/api/stall");
        var (header, left) = await SeenAsync(things.Service.Deadlines);
        output.WriteLine($"grpc-timeout: {header}, left: {left}");
        Assert.NotEmpty(header);
        Assert.InRange(left, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(6));

        time.Advance(TimeSpan.FromSeconds(7));
        var (status, body, type) = await answer;

        output.WriteLine(body);
        Assert.Equal((HttpStatusCode.GatewayTimeout, "application/problem+json"), (status, type));
    }

    [Fact]
    public async Task CompositionGrpcStep_StartingLate_IsToldOnlyWhatIsLeftOfTheComposition_And504EndsItWhenThatIsSpent()
    {
        await using var things = await ThingsServer.StartAsync();
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var svc = await TestBackend.StartAsync("svc", app => app.MapGet("/first", async (HttpContext context) =>
        {
            arrived.TrySetResult();
            await release.Task.WaitAsync(context.RequestAborted); // held until the test has moved the gateway's clock on
            return Results.Json(new { id = 7 });
        }), Ct);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var config = JsonNode.Parse(DynamicTranscodingTests.Config(things.Address))!;
        config["ReverseProxy"]!["Clusters"]!["svc"] = new JsonObject { ["Destinations"] = new JsonObject { ["a"] = new JsonObject { ["Address"] = svc.Address.ToString() } } };
        // The gRPC step alone may take 30 s (each attempt 10 s, the default policy's cap), but the whole composition only 10.
        config["Portico"]!["Compositions"] = JsonNode.Parse($$$"""
        { "late": { "Path": "/api/late", "AuthorizationPolicy": "anonymous", "Timeout": "00:00:10", "Steps": {
            "first": { "Cluster": "svc", "Path": "/first", "Timeout": "00:00:10" },
            "wait": { "Cluster": "things", "Grpc": "{{{Service}}}/Wait", "Body": { "id": "{{steps.first.body.id}}" }, "Timeout": "00:00:30" } } } }
        """);
        await using var gateway = await GatewayTestHost.StartAsync(config.ToJsonString(), time);

        var answer = DynamicTranscodingTests.SendAsync(gateway, HttpMethod.Get, "/api/late");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        time.Advance(TimeSpan.FromSeconds(7)); // the first step takes 7 of the composition's 10 seconds
        release.SetResult();
        var (header, left) = await SeenAsync(things.Service.Deadlines);

        output.WriteLine($"grpc-timeout: {header}, left: {left}");
        Assert.True(GrpcTimeout.TryParse(header, out var told), header);
        Assert.InRange(told, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)); // the 3 s left, not the step's 30 s nor the attempt's 10 s

        time.Advance(TimeSpan.FromSeconds(3)); // the composition's budget is spent; the service still stalls
        var (status, body, type) = await answer;
        output.WriteLine(body);
        Assert.Equal((HttpStatusCode.GatewayTimeout, "application/problem+json"), (status, type));
        Assert.Equal("wait", JsonNode.Parse(body)!["step"]!.GetValue<string>());
        // The gateway ended the call at the service as well: nothing runs on for an answer nobody will read.
        await SeenAsync(things.Service.Ended);
        Assert.Equal(7, Assert.Single(things.Service.Ended));
    }

    [Fact]
    public async Task ServerStreaming_DeadlineIsCountedOnTheGatewaysClock_AndTheStreamEndsWithDeadlineExceeded()
    {
        await using var things = await ThingsServer.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await GatewayTestHost.StartAsync(
            DynamicTranscodingTests.Config(things.Address, new JsonObject { ["Timeout"] = "00:05:00" }), time);

        using var response = await gateway.Client.GetAsync("/api/things?count=2&prefix=hold", HttpCompletionOption.ResponseHeadersRead, Ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        Assert.Equal("""{"id":"1","name":"hold1"}""", await reader.ReadLineAsync(Ct)); // the service holds the second thing back
        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));

        // Five minutes on the gateway's clock, a moment on the system's: only the gateway's clock can end the stream in time.
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        patience.CancelAfter(TimeSpan.FromSeconds(30));
        var last = await reader.ReadLineAsync(patience.Token);
        output.WriteLine(last ?? "(the stream ended)");
        var error = JsonNode.Parse(last!)!["error"]!;
        Assert.Equal((4, "DEADLINE_EXCEEDED"), (error["code"]!.GetValue<int>(), error["status"]!.GetValue<string>()));
        Assert.Null(await reader.ReadLineAsync(patience.Token));
    }

    [Fact]
    public async Task TranscodedCall_CarriesTheCallersTraceContext_TraceparentOfItsTrace_AndTracestate()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(DynamicTranscodingTests.Config(things.Address));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/things/2");
        request.Headers.Add("traceparent", TraceParent);
        request.Headers.Add("tracestate", TraceState);
        using var response = await gateway.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(things.Service.Headers);
        output.WriteLine(string.Join("\n", headers.Select(h => $"{h.Key}: {h.Value}")));
        Assert.Matches($"^00-{TraceId}-[0-9a-f]{{16}}-0[01]$", headers.GetValue("traceparent"));
        Assert.Equal(TraceState, headers.GetValue("tracestate"));
    }

    [Fact]
    public async Task CompositionGrpcStep_CarriesTheCallersToken_RequestId_AndTraceContext()
    {
        await using var things = await ThingsServer.StartAsync();
        var config = JsonNode.Parse(DynamicTranscodingTests.Config(things.Address))!;
        // No AuthorizationPolicy: a signed-in caller, whose token the step carries as an HTTP step would.
        config["Portico"]!["Compositions"] = JsonNode.Parse($$$"""
        { "one": { "Path": "/api/one/{id}", "Steps": {
            "get": { "Cluster": "things", "Grpc": "{{{Service}}}/GetThing", "Body": { "id": "{{request.route.id}}" } } },
          "Response": { "thing": "{{steps.get.body}}" } } }
        """);
        await using var gateway = await GatewayTestHost.StartAsync(config.ToJsonString());
        var token = gateway.Tokens.CreateToken("user-7");

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/one/3");
        request.Headers.Authorization = new("Bearer", token);
        request.Headers.Add("traceparent", TraceParent);
        request.Headers.Add("tracestate", TraceState);
        using var response = await gateway.Client.SendAsync(request, Ct);

        output.WriteLine(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(things.Service.Headers);
        output.WriteLine(string.Join("\n", headers.Select(h => $"{h.Key}: {h.Value}")));
        Assert.Equal("Bearer " + token, headers.GetValue("authorization"));
        Assert.False(string.IsNullOrEmpty(headers.GetValue("x-request-id")));
        Assert.Matches($"^00-{TraceId}-[0-9a-f]{{16}}-0[01]$", headers.GetValue("traceparent"));
        Assert.Equal(TraceState, headers.GetValue("tracestate"));
    }

    /// <summary>
    /// The <paramref name="count"/>th thing the service recorded (the first by default), polled for with a deadline while
    /// the call is on its way; <paramref name="meanwhile"/> runs between looks (moving the gateway's clock on, say).
    /// </summary>
    private static async Task<T> SeenAsync<T>(System.Collections.Concurrent.ConcurrentQueue<T> queue, int count = 1, Action? meanwhile = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (queue.Count < count && DateTime.UtcNow < deadline)
        {
            meanwhile?.Invoke();
            await Task.Delay(20, Ct);
        }
        Assert.True(queue.Count >= count, $"the service saw {queue.Count} calls, not {count}");
        return queue.ElementAt(count - 1);
    }
}

using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Portico.Contracts.Loyalty.V1;
using Portico.Gateway.Composition;
using Portico.Gateway.Configuration;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Composition;

/// <summary>
/// The purchase as the shop declares it — order (Ordering, idempotent by the client's key, replaying the order as it is
/// now), then Accrue (Loyalty over gRPC, idempotent by order id) — as a durable composition against stand-ins that
/// count every call, a real Garnet store and real gateway hosts: exactly once under lost replies, dead gateways,
/// clients that leave, retries and concurrent duplicates.
/// </summary>
public sealed class DurableCompositionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Purchase = """
    { "purchase": { "Method": "POST", "Path": "/api/purchases", "Timeout": "00:00:10",
        "Durable": { "RecoverAfter": "00:01:00" },
        "Steps": {
          "order": { "Cluster": "ordering", "Method": "POST", "Path": "/api/orders", "Idempotent": true, "Timeout": "00:00:03",
                     "Headers": { "Idempotency-Key": "{{request.headers.Idempotency-Key}}" },
                     "Body": { "items": "{{request.body.items}}" },
                     "Expect": { "body.status": "Placed" },
                     "Unexpected": { "Status": 409, "Title": "Order is not placed", "Detail": "Order {{steps.order.body.id}} is {{steps.order.body.status}}; nothing was accrued." },
                     "Compensate": { "Method": "POST", "Path": "/api/orders/{{steps.order.body.id}}/cancel", "AlreadyDone": [ 409 ] } },
          "points": { "Cluster": "loyalty", "Grpc": "loyalty.v1.Loyalty/Accrue", "Idempotent": true, "Timeout": "00:00:03", "AttemptTimeout": "00:00:01",
                      "Body": { "userId": "{{user.sub}}", "orderId": "{{steps.order.body.id}}", "amount": "{{steps.order.body.total}}" } } },
        "Response": { "order": "{{steps.order.body}}", "points": "{{steps.points.body}}" } } }
    """;

    private static readonly object Items = new { items = new[] { new { productId = 1, quantity = 2 } } };

    private readonly GarnetTestServer _store = GarnetTestServer.Start();
    private readonly FakeOrdering _ordering = new();
    private readonly FakeLoyalty _loyalty = new();
    private TestBackend _orderingHost = null!;
    private TestBackend _loyaltyHost = null!;

    public async ValueTask InitializeAsync()
    {
        _orderingHost = await TestBackend.StartAsync("ordering", _ordering.Map, Ct);
        _loyaltyHost = await TestBackend.StartAsync("loyalty", map: _loyalty.Map, protocols: HttpProtocols.Http2, cancellationToken: Ct);
    }

    public async ValueTask DisposeAsync()
    {
        _loyalty.Release.TrySetResult();
        _ordering.Gate.TrySetResult();
        await _orderingHost.DisposeAsync();
        await _loyaltyHost.DisposeAsync();
        _store.Dispose();
    }

    private string Config(string compositions = Purchase) => new JsonObject
    {
        ["ReverseProxy"] = new JsonObject
        {
            ["Routes"] = new JsonObject(),
            ["Clusters"] = new JsonObject
            {
                ["ordering"] = new JsonObject { ["Destinations"] = new JsonObject { ["a"] = new JsonObject { ["Address"] = _orderingHost.Address.ToString() } } },
                ["loyalty"] = new JsonObject
                {
                    ["HttpRequest"] = new JsonObject { ["Version"] = "2.0", ["VersionPolicy"] = "RequestVersionExact" },
                    ["Destinations"] = new JsonObject { ["a"] = new JsonObject { ["Address"] = _loyaltyHost.Address.ToString() } },
                },
            },
        },
        ["Portico"] = new JsonObject { ["Compositions"] = JsonNode.Parse(compositions) },
    }.ToJsonString();

    private Task<GatewayTestHost> StartGatewayAsync(TimeProvider? time = null, string compositions = Purchase, string? store = null, string? writeRetryBudget = null,
        string recoveryInterval = "00:00:01") =>
        GatewayTestHost.StartAsync(Config(compositions), time, new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store ?? _store.ConnectionString,
            ["Portico:SagaRecovery:Interval"] = recoveryInterval,
            ["Portico:SagaRecovery:WriteRetryBudget"] = writeRetryBudget,
        }, LoyaltyReflection.Descriptor);

    private static HttpRequestMessage PurchaseRequest(GatewayTestHost gateway, string? key, string user = "user-1", object? body = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/purchases") { Content = JsonContent.Create(body ?? Items) };
        request.Headers.Authorization = new("Bearer", gateway.Tokens.CreateToken(user));
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }
        return request;
    }

    private async Task<(HttpResponseMessage Response, string Body)> PurchaseAsync(GatewayTestHost gateway, string? key, string user = "user-1", object? body = null,
        CancellationToken cancellationToken = default)
    {
        using var request = PurchaseRequest(gateway, key, user, body);
        var response = await gateway.Client.SendAsync(request, cancellationToken == default ? Ct : cancellationToken);
        var text = await response.Content.ReadAsStringAsync(Ct);
        output.WriteLine($"{(int)response.StatusCode} {text}");
        return (response, text);
    }

    private string Counts() =>
        $"orders placed {_ordering.Placed}, order calls {_ordering.Posts}, cancels {_ordering.Cancels}; accrue calls {_loyalty.Calls}, accruals applied {_loyalty.Applied.Count}";

    [Fact]
    public async Task MissingKey_Is400NamingTheHeader_AndNothingIsSent()
    {
        await using var gateway = await StartGatewayAsync();

        var (response, body) = await PurchaseAsync(gateway, key: null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Idempotency-Key", body, StringComparison.Ordinal);
        Assert.Equal(0, _orderingHost.RequestCount);
        Assert.Equal(0, _loyalty.Calls);
    }

    [Theory]
    [InlineData(100, HttpStatusCode.OK)]
    [InlineData(101, HttpStatusCode.BadRequest)]
    [InlineData(255, HttpStatusCode.BadRequest)]
    public async Task KeyLongerThanOrderingTakes_Is400NamingTheHeader_AndNothingIsSent(int length, HttpStatusCode expected)
    {
        // Before, keys of 101 to 255 characters began a purchase whose order Ordering then refused (400 from the order step).
        await using var gateway = await StartGatewayAsync();

        var (response, body) = await PurchaseAsync(gateway, new string('k', length));

        Assert.Equal(expected, response.StatusCode);
        if (expected == HttpStatusCode.BadRequest)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(body);
            Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty("Idempotency-Key", out _), body);
            Assert.Equal(0, _orderingHost.RequestCount);
        }
    }

    [Fact]
    public async Task RetryWithTheSameKey_AfterACompensatedFailure_GetsTheSameFailure_AndNothingIsAccrued()
    {
        _loyalty.Behaviour = (_, _, _) => Task.FromResult((14, "ledger down")); // UNAVAILABLE: not done, tried again within the budget
        await using var gateway = await StartGatewayAsync();

        var (first, firstBody) = await PurchaseAsync(gateway, "k-1");
        var callsAfterFirst = _loyalty.Calls;
        _loyalty.Behaviour = (_, _, _) => Task.FromResult((0, "")); // Loyalty is back
        var (retry, retryBody) = await PurchaseAsync(gateway, "k-1");

        output.WriteLine(Counts());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        using (var problem = JsonDocument.Parse(firstBody))
        {
            Assert.Equal("points", problem.RootElement.GetProperty("step").GetString());
            Assert.Equal("order", problem.RootElement.GetProperty("compensated")[0].GetString());
        }
        Assert.Equal(HttpStatusCode.ServiceUnavailable, retry.StatusCode);
        Assert.Equal(firstBody, retryBody);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(callsAfterFirst, _loyalty.Calls); // the retry did not reach Loyalty
        Assert.Empty(_loyalty.Applied);
        Assert.Equal((1, 1, 1), (_ordering.Placed, _ordering.Posts, _ordering.Cancels));
        Assert.Equal("Cancelled", _ordering.Single().Status);
    }

    [Fact]
    public async Task AccrueReplyLost_IsSentAgain_PointsOnce_AndTheOrderIsKept()
    {
        // Loyalty applies the first Accrue, then the connection drops before the reply.
        _loyalty.Behaviour = (n, request, context) =>
        {
            if (n == 1)
            {
                _loyalty.Apply(request);
                context.Abort();
            }
            return Task.FromResult((0, ""));
        };
        await using var gateway = await StartGatewayAsync();

        var (response, body) = await PurchaseAsync(gateway, "k-2");

        output.WriteLine(Counts());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("500", json.RootElement.GetProperty("points").GetProperty("pointsEarned").GetString());
        Assert.Equal(2, _loyalty.Calls);
        Assert.Single(_loyalty.Applied);
        Assert.Equal((1, 0), (_ordering.Placed, _ordering.Cancels));
        Assert.Equal("Placed", _ordering.Single().Status);
    }

    [Fact]
    public async Task GatewayDiesMidPurchase_AnotherInstanceRecoversTheSaga_AndTheRetryThereGetsItsOutcome()
    {
        // Loyalty applies the accrual and then holds every reply until released: the gateway dies waiting for it.
        _loyalty.Behaviour = async (_, request, context) =>
        {
            _loyalty.Apply(request);
            await _loyalty.Release.Task.WaitAsync(context.RequestAborted);
            return (0, "");
        };
        var first = await StartGatewayAsync();
        using var request = PurchaseRequest(first, "k-3");
        var abandoned = first.Client.SendAsync(request, Ct);
        await _loyalty.FirstCall.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await first.KillAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => abandoned); // the client lost its connection with the gateway
        _loyalty.Release.TrySetResult();

        // A second instance on the same store: once its clock passes RecoverAfter, its recovery worker settles the saga.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var second = await StartGatewayAsync(clock);
        var log = second.Services.GetRequiredService<SagaLog>();
        var sagaKey = SagaLog.KeyFor("purchase", "user-1", "k-3");
        Assert.Null((await log.LoadAsync(sagaKey))!.Final);
        clock.Advance(TimeSpan.FromMinutes(2));
        var deadline = DateTime.UtcNow.AddSeconds(15);
        SagaState? state;
        while ((state = await log.LoadAsync(sagaKey))?.Final is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct); // polls for the worker's effect; the clock it decides by is the fake one
        }
        var callsBeforeRetry = (_loyalty.Calls, _ordering.Posts);
        var (retry, body) = await PurchaseAsync(second, "k-3");

        output.WriteLine(Counts());
        Assert.NotNull(state?.Final);
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        using var json = JsonDocument.Parse(body);
        Assert.Equal("500", json.RootElement.GetProperty("points").GetProperty("pointsEarned").GetString());
        Assert.Equal(callsBeforeRetry, (_loyalty.Calls, _ordering.Posts)); // the retry was answered from the log
        Assert.Single(_loyalty.Applied);
        Assert.Equal((1, 1, 0), (_ordering.Placed, _ordering.Posts, _ordering.Cancels)); // the order step was not sent again
        Assert.Equal("Placed", _ordering.Single().Status);
    }

    [Fact]
    public async Task OutcomeStillUnknownAfterTheBudget_IsPendingWithRetryAfter_UndoesNothing_AndIsSettledLater()
    {
        // Loyalty holds every Accrue unanswered until released; the gateway's clock is driven by the test.
        _loyalty.Behaviour = async (_, request, context) =>
        {
            await _loyalty.Release.Task.WaitAsync(context.RequestAborted);
            return (0, "");
        };
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await StartGatewayAsync(clock);
        using var request = PurchaseRequest(gateway, "k-9");
        var call = gateway.Client.SendAsync(request, Ct);
        await _loyalty.FirstCall.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!call.IsCompleted && DateTime.UtcNow < deadline)
        {
            clock.Advance(TimeSpan.FromMilliseconds(250)); // past each 1 s attempt, the backoff and finally the step's 3 s budget
            await Task.WhenAny(call, Task.Delay(20, Ct));
        }
        using var pending = await call;
        var pendingBody = await pending.Content.ReadAsStringAsync(Ct);
        output.WriteLine($"{(int)pending.StatusCode} {pendingBody}");
        var callsWhilePending = _loyalty.Calls;

        _loyalty.Release.TrySetResult(); // Loyalty answers again
        clock.Advance(TimeSpan.FromMinutes(2)); // past RecoverAfter: the worker, or the retry itself, settles it
        deadline = DateTime.UtcNow.AddSeconds(15);
        HttpResponseMessage retry;
        string body;
        do
        {
            (retry, body) = await PurchaseAsync(gateway, "k-9");
        }
        while (retry.StatusCode == HttpStatusCode.Conflict && DateTime.UtcNow < deadline && await PollDelay());

        output.WriteLine(Counts());
        Assert.Equal(HttpStatusCode.GatewayTimeout, pending.StatusCode);
        Assert.Equal(TimeSpan.FromMinutes(1), pending.Headers.RetryAfter?.Delta);
        using (var problem = JsonDocument.Parse(pendingBody))
        {
            Assert.Equal("https://portico.dev/problems/composition-pending", problem.RootElement.GetProperty("type").GetString());
            Assert.Equal("points", problem.RootElement.GetProperty("step").GetString());
        }
        Assert.True(callsWhilePending >= 2, $"sent {callsWhilePending} time(s) within the budget");
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Contains("pointsEarned", body, StringComparison.Ordinal);
        Assert.Single(_loyalty.Applied);
        Assert.Equal((1, 1, 0), (_ordering.Placed, _ordering.Posts, _ordering.Cancels));
        Assert.Equal("Placed", _ordering.Single().Status);
    }

    [Fact]
    public async Task OrderReplyLost_ThenOrderingRefusedForTheRestOfTheBudget_IsPendingNotFailed_AndIsSettledWithThatOrder()
    {
        // Found by the purchase soak: the first attempt places the order and its reply is lost (unknown); every later
        // attempt is refused for now (503) until the budget ends. The refusals say nothing about the first attempt, so the
        // step is unknown — before, it was taken as failed: 503 to the client for good, the order placed, no points.
        _ordering.Behaviour = (n, context, place) =>
        {
            if (n == 1)
            {
                place();
                context.Abort();
                return Results.Empty;
            }
            return Results.Problem(statusCode: 503, title: "Busy");
        };
        // Real timers, so the step's 3 s budget runs out in a backoff pause after a refusal (the refusals take
        // milliseconds), as it does against a service that is down; only "now" is moved, past RecoverAfter, afterwards.
        var clock = new ShiftedClock();
        await using var gateway = await StartGatewayAsync(clock);
        var (pending, pendingBody) = await PurchaseAsync(gateway, "k-lost-order");
        var postsWhilePending = _ordering.Posts;

        _ordering.Behaviour = null; // Ordering answers again: the repeat replays the order
        clock.Ahead = TimeSpan.FromMinutes(2); // past RecoverAfter: the worker, or the retry itself, settles it
        var deadline = DateTime.UtcNow.AddSeconds(15);
        HttpResponseMessage retry;
        string body;
        do
        {
            (retry, body) = await PurchaseAsync(gateway, "k-lost-order");
        }
        while (retry.StatusCode == HttpStatusCode.Conflict && DateTime.UtcNow < deadline && await PollDelay());

        output.WriteLine(Counts());
        Assert.True(postsWhilePending >= 2, $"sent {postsWhilePending} time(s) within the budget");
        using (var problem = JsonDocument.Parse(pendingBody))
        {
            Assert.Equal("https://portico.dev/problems/composition-pending", problem.RootElement.GetProperty("type").GetString());
            Assert.Equal("order", problem.RootElement.GetProperty("step").GetString());
        }
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        using (var json = JsonDocument.Parse(body))
        {
            Assert.Equal(_ordering.Single().Id, json.RootElement.GetProperty("order").GetProperty("id").GetString());
        }
        Assert.Single(_loyalty.Applied);
        Assert.Equal((1, 0), (_ordering.Placed, _ordering.Cancels));
        Assert.Equal("Placed", _ordering.Single().Status);
    }

    [Fact]
    public async Task GatewayDiesAfterSendingTheOrder_TheResumedRunOnlySeesRefusals_IsPendingNotFailed_AndIsSettledWithThatOrder()
    {
        // Found by the purchase soak: the first run sends the order (applied) and dies before the reply; the run that
        // resumes it on another instance is only refused (503) until its budget ends. Its log says the step was sent,
        // so the refusals cannot make it "not done": the answer is pending, and the order is kept and completed later.
        var placed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ordering.Behaviour = (n, context, place) =>
        {
            place();
            placed.TrySetResult();
            context.RequestAborted.WaitHandle.WaitOne(TimeSpan.FromSeconds(20)); // the reply never leaves: the gateway dies first
            return Results.Empty;
        };
        var first = await StartGatewayAsync();
        using var request = PurchaseRequest(first, "k-died-after-order");
        var abandoned = first.Client.SendAsync(request, Ct);
        await placed.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await first.KillAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => abandoned);

        _ordering.Behaviour = (_, _, _) => Results.Problem(statusCode: 503, title: "Busy");
        var clock = new ShiftedClock { Ahead = TimeSpan.FromMinutes(2) }; // past RecoverAfter: the retry takes the run over
        // No sweep meanwhile: this is about the client's retry taking the run over. A sweep 1 s after start won the race
        // on a loaded CI machine, and the retry was rightly told 409 (in progress).
        await using var second = await StartGatewayAsync(clock, recoveryInterval: "01:00:00");
        var (pending, pendingBody) = await PurchaseAsync(second, "k-died-after-order");

        _ordering.Behaviour = null; // Ordering answers again: the repeat replays the order
        clock.Ahead = TimeSpan.FromMinutes(4);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        HttpResponseMessage retry;
        string body;
        do
        {
            (retry, body) = await PurchaseAsync(second, "k-died-after-order");
        }
        while (retry.StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline && await PollDelay());

        output.WriteLine(Counts());
        using (var problem = JsonDocument.Parse(pendingBody))
        {
            Assert.True(problem.RootElement.GetProperty("type").GetString() == "https://portico.dev/problems/composition-pending", $"{(int)pending.StatusCode} {pendingBody}");
        }
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Single(_loyalty.Applied);
        Assert.Equal((1, 0), (_ordering.Placed, _ordering.Cancels));
        Assert.Equal("Placed", _ordering.Single().Status);
    }

    [Fact]
    public async Task StoreStallsPastItsClientTimeoutMidRun_TheSagaWriteIsRetried_AndThePurchaseCompletes()
    {
        // Seen on a loaded CI machine: a saga-log write the store did not take within StackExchange.Redis's 5 s (a
        // conditional transaction waits for its condition's reply, and reports one it gave up on as unmet) made the
        // purchase "pending" with the store up. Here the store stalls right after the order is placed, until the
        // gateway has given up on a write once; the write is tried again and the purchase completes. Before the fix
        // the run stopped at the first failed write and answered 503 pending.
        await using var proxy = TcpProxy.Start(_store.Port);
        _ordering.Behaviour = (n, _, _) =>
        {
            if (n == 1)
            {
                proxy.Stall(); // the order's outcome is recorded next: that write meets the stalled store
            }
            return null;
        };
        // One attempt against the stalled store can outlast the default 15 s budget on a loaded machine (seen in CI: one
        // attempt, 19 s, no retry); this test is about the retry, so the budget leaves room for a second attempt.
        // Likewise the composition's own 10 s: one stalled write (StackExchange.Redis gives up after 5 s) and its retry
        // outlasted it on a loaded CI machine, and the purchase was rightly answered "pending".
        await using var gateway = await StartGatewayAsync(compositions: Purchase.Replace("\"Timeout\": \"00:00:10\"", "\"Timeout\": \"00:00:40\"", StringComparison.Ordinal),
            store: $"127.0.0.1:{proxy.Port}", writeRetryBudget: "00:01:00");
        using var writes = new MetricCollector<long>(gateway.Services.GetRequiredService<IMeterFactory>(), "Portico.Gateway", "portico.gateway.composition.saga_log.writes");
        using var request = PurchaseRequest(gateway, "k-stall");
        var call = gateway.Client.SendAsync(request, Ct);

        // Held until the gateway gave up on a write once (it tries again) or answered (it did not).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!call.IsCompleted && Count(writes, "retried") == 0 && DateTime.UtcNow < deadline)
        {
            await Task.WhenAny(call, Task.Delay(50, Ct));
        }
        proxy.Resume();
        using var response = await call;
        var body = await response.Content.ReadAsStringAsync(Ct);

        output.WriteLine($"{(int)response.StatusCode} {body}");
        output.WriteLine($"saga-log writes retried {Count(writes, "retried")}, failed {Count(writes, "failed")}, conflicts {Count(writes, "conflict")}; {Counts()}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(Count(writes, "retried") >= 1);
        Assert.Equal((0, 0), (Count(writes, "failed"), Count(writes, "conflict")));
        Assert.Single(_loyalty.Applied);
        Assert.Equal((1, 0), (_ordering.Placed, _ordering.Cancels));
    }

    [Fact]
    public async Task RunTakenOverMidStep_ItsNextWriteIsAConflict_NotRetried_AndTheAnswerSaysSo()
    {
        _ordering.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var gateway = await StartGatewayAsync();
        using var writes = new MetricCollector<long>(gateway.Services.GetRequiredService<IMeterFactory>(), "Portico.Gateway", "portico.gateway.composition.saga_log.writes");
        using var request = PurchaseRequest(gateway, "k-fenced");
        var call = gateway.Client.SendAsync(request, Ct);
        await _ordering.PostArrived.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        // Another instance takes the run over while the order call is in flight.
        var log = gateway.Services.GetRequiredService<SagaLog>();
        var state = await log.LoadAsync(SagaLog.KeyFor("purchase", "user-1", "k-fenced"));
        var takeover = await log.TakeOverAsync(state!, "another-instance");
        _ordering.Gate.TrySetResult();
        using var response = await call;
        var body = await response.Content.ReadAsStringAsync(Ct);

        output.WriteLine($"{(int)response.StatusCode} {body}");
        Assert.True(takeover.Written);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("taken the run over", body, StringComparison.Ordinal);
        Assert.Equal((1, 0, 0), (Count(writes, "conflict"), Count(writes, "retried"), Count(writes, "failed")));
        Assert.Equal(0, _loyalty.Calls); // the run stopped: its new owner settles it
        Assert.Equal(0, _ordering.Cancels);
    }

    [Fact]
    public async Task CallersToken_IsEncryptedInTheSagaLog_AndAnotherInstanceRecoversTheRunAsTheUser()
    {
        // Ordering records every Authorization and X-User-Id it gets (Loyalty its x-user-id); the first order call is
        // held until the gateway has died.
        var authorizations = new ConcurrentQueue<string>();
        var userIds = new ConcurrentQueue<string>();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _loyalty.Behaviour = (_, _, context) =>
        {
            userIds.Enqueue("loyalty:" + context.Request.Headers["x-user-id"]);
            return Task.FromResult((0, ""));
        };
        _ordering.Behaviour = (n, context, _) =>
        {
            authorizations.Enqueue(context.Request.Headers.Authorization.ToString());
            userIds.Enqueue("ordering:" + context.Request.Headers["X-User-Id"]);
            if (n > 1)
            {
                return null; // placed and answered as usual
            }
            held.TrySetResult();
            context.RequestAborted.WaitHandle.WaitOne(TimeSpan.FromSeconds(20));
            return Results.Empty;
        };
        var first = await StartGatewayAsync();
        using var request = PurchaseRequest(first, "k-token");
        var token = request.Headers.Authorization!.Parameter!;
        var abandoned = first.Client.SendAsync(request, Ct);
        await held.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await first.KillAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => abandoned);

        // The run's hash as the store holds it: the captured request is there, and no trace of the token (nor the body).
        using (var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(_store.ConnectionString))
        {
            var hash = await redis.GetDatabase().HashGetAllAsync(SagaLog.KeyFor("purchase", "user-1", "k-token"));
            var stored = string.Join("\n", hash.Select(e => $"{e.Name}={Encoding.UTF8.GetString((byte[])e.Value!)}"));
            output.WriteLine(stored);
            Assert.Contains(hash, e => e.Name == "input");
            Assert.DoesNotContain(token.Split('.')[1], stored, StringComparison.Ordinal); // the claims segment, in any part of the token
            Assert.DoesNotContain("Bearer", stored, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("productId", stored, StringComparison.Ordinal);
        }

        // A second instance on the same store, its clock past RecoverAfter: its worker resumes the run and calls Ordering as the user.
        await using var second = await StartGatewayAsync(new ShiftedClock { Ahead = TimeSpan.FromMinutes(2) });
        var log = second.Services.GetRequiredService<SagaLog>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        SagaState? state;
        while ((state = await log.LoadAsync(SagaLog.KeyFor("purchase", "user-1", "k-token")))?.Final is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct); // polls for the worker's effect
        }

        output.WriteLine(Counts());
        Assert.NotNull(state?.Final);
        Assert.Equal(200, state.Final.Status);
        Assert.True(authorizations.Count >= 2, $"Ordering was called {authorizations.Count} time(s)");
        Assert.All(authorizations, a => Assert.Equal("Bearer " + token, a));
        // Who the caller is came through the saga log too: the recovering instance has no request to take it from.
        Assert.Equal(["loyalty:user-1", "ordering:user-1"], userIds.Distinct().Order());
        Assert.Single(_loyalty.Applied);
        Assert.Equal((1, 0), (_ordering.Placed, _ordering.Cancels));
    }

    private static long Count(MetricCollector<long> writes, string outcome) =>
        writes.GetMeasurementSnapshot().Where(m => Equals(m.Tags["outcome"], outcome)).Sum(m => m.Value);

    /// <summary>The system clock with "now" moved ahead by <see cref="Ahead"/>; timers and timestamps stay real.</summary>
    private sealed class ShiftedClock : TimeProvider
    {
        public TimeSpan Ahead { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Ahead;
    }

    private static async Task<bool> PollDelay()
    {
        await Task.Delay(50);
        return true;
    }

    [Fact]
    public async Task ClientLeavesDuringTheLastStep_NothingIsUndone_AndItsRetryGetsTheOutcome()
    {
        _loyalty.Behaviour = async (_, request, context) =>
        {
            await _loyalty.Release.Task.WaitAsync(context.RequestAborted);
            _loyalty.Apply(request);
            return (0, "");
        };
        await using var gateway = await StartGatewayAsync();
        using var leave = new CancellationTokenSource();
        using var request = PurchaseRequest(gateway, "k-4");
        var call = gateway.Client.SendAsync(request, leave.Token);
        await _loyalty.FirstCall.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        _loyalty.Release.TrySetResult();

        var deadline = DateTime.UtcNow.AddSeconds(15);
        HttpResponseMessage retry;
        string body;
        do
        {
            (retry, body) = await PurchaseAsync(gateway, "k-4"); // 409 with Retry-After while the run is finishing
        }
        while (retry.StatusCode == HttpStatusCode.Conflict && DateTime.UtcNow < deadline && await PollDelay());

        output.WriteLine(Counts());
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Single(_loyalty.Applied);
        Assert.Equal((1, 0), (_ordering.Placed, _ordering.Cancels));
        Assert.Equal("Placed", _ordering.Single().Status);
        Assert.Contains("pointsEarned", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SameKeyConcurrently_RunsOnce_TheDuplicateIsToldItIsInProgress()
    {
        _ordering.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var gateway = await StartGatewayAsync();

        using var firstRequest = PurchaseRequest(gateway, "k-5");
        var first = gateway.Client.SendAsync(firstRequest, Ct);
        await _ordering.PostArrived.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var (duplicate, duplicateBody) = await PurchaseAsync(gateway, "k-5");
        _ordering.Gate.TrySetResult();
        using var firstResponse = await first;
        var firstBody = await firstResponse.Content.ReadAsStringAsync(Ct);
        var (again, againBody) = await PurchaseAsync(gateway, "k-5");

        output.WriteLine(Counts());
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal("application/problem+json", duplicate.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(duplicate.Headers.RetryAfter);
        Assert.Contains("in progress", duplicateBody, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, firstResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(firstBody, againBody);
        Assert.Equal((1, 1), (_ordering.Posts, _loyalty.Calls));
    }

    [Fact]
    public async Task OrderReplayedAsCancelled_Is409NamingTheOrder_NothingAccrued_NothingUndone()
    {
        // The client ordered directly with key K and cancelled it; then it purchases with K.
        var order = _ordering.Place("k-6", "user-1");
        order.Status = "Cancelled";
        await using var gateway = await StartGatewayAsync();

        var (response, body) = await PurchaseAsync(gateway, "k-6");

        output.WriteLine(Counts());
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("Order is not placed", json.RootElement.GetProperty("title").GetString());
        Assert.Contains(order.Id, json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, _loyalty.Calls);
        Assert.Equal(0, _ordering.Cancels);
    }

    [Fact]
    public async Task CompensatingAnOrderCancelledMeanwhile_CountsAsUndone()
    {
        // Loyalty refuses for good; the user has cancelled the order meanwhile, so the cancel answers 409.
        _loyalty.Behaviour = (_, _, _) =>
        {
            _ordering.Single().Status = "Cancelled";
            return Task.FromResult((9, "order was reverted"));
        };
        await using var gateway = await StartGatewayAsync();

        var (response, body) = await PurchaseAsync(gateway, "k-7");

        output.WriteLine(Counts());
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode); // FAILED_PRECONDITION: not done, not retried
        using var json = JsonDocument.Parse(body);
        Assert.Equal("order", json.RootElement.GetProperty("compensated")[0].GetString());
        Assert.Equal((1, 1), (_loyalty.Calls, _ordering.Cancels));
    }

    [Fact]
    public async Task SameKey_WithAnotherBody_Is422_AndSameKeyOfAnotherUser_IsItsOwnPurchase()
    {
        _loyalty.Behaviour = (_, _, _) => Task.FromResult((0, ""));
        await using var gateway = await StartGatewayAsync();

        var (first, _) = await PurchaseAsync(gateway, "k-8");
        var (otherBody, _) = await PurchaseAsync(gateway, "k-8", body: new { items = new[] { new { productId = 2, quantity = 1 } } });
        var (otherUser, _) = await PurchaseAsync(gateway, "k-8", user: "user-2");

        output.WriteLine(Counts());
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, otherBody.StatusCode);
        Assert.Equal(HttpStatusCode.OK, otherUser.StatusCode);
        Assert.False(otherUser.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal((2, 2), (_ordering.Placed, _loyalty.Applied.Count));
    }

    [Fact]
    public async Task Start_DurableWithoutStore_NonIdempotentStep_OrShortRecovery_FailsListingThemAll()
    {
        const string compositions = """
        { "bad": { "Method": "POST", "Path": "/bad", "Timeout": "00:00:10", "Durable": { "RecoverAfter": "00:00:05" }, "Steps": {
            "a": { "Cluster": "ordering", "Method": "POST", "Path": "/a", "Expect": { "body.status": [] }, "Unexpected": { "Status": 200 },
                   "Compensate": { "Method": "POST", "Path": "/undo", "AlreadyDone": [ "NOPE" ] } } } } }
        """;

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(Config(compositions)));

        output.WriteLine(ex.Message);
        Assert.Contains(ex.Errors, e => e.Contains("ConnectionStrings:store", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("step 'a' of a durable composition must be \"Idempotent\": true", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("RecoverAfter 00:00:05 must be longer", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("Expect 'body.status' must be a value", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("Unexpected Status 200", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("AlreadyDone 'NOPE'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ShippedGatewayFile_IsValid_WithItsDurablePurchase()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(folder.FullName, "src", "Gateway.Host", "gateway.json")))
        {
            folder = folder.Parent!;
        }
        var shipped = Path.Combine(folder.FullName, "src", "Gateway.Host", "gateway.json");
        // The rate-limit policies its routes name, and the queues of its job routes, live in the host's settings.
        var settings = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(folder.FullName, "src", "Gateway.Host", "appsettings.json")).Build()
            .AsEnumerable().Where(p => p.Key.StartsWith("Portico:RateLimiting", StringComparison.Ordinal) || p.Key.StartsWith("Portico:Jobs", StringComparison.Ordinal)).ToDictionary();
        settings["ConnectionStrings:store"] = _store.ConnectionString;
        GatewayTestHost gateway;
        try
        {
            gateway = await GatewayTestHost.StartAsync(await File.ReadAllTextAsync(shipped, Ct), settings, LoyaltyReflection.Descriptor);
        }
        catch (GatewayConfigurationException ex)
        {
            Assert.Fail(string.Join("\n", ex.Errors));
            throw;
        }
        await using var _ = gateway;

        var plan = gateway.Services.GetRequiredService<GatewayConfigProvider>().GetSection<CompositionSettings>().Find("purchase");

        Assert.NotNull(plan?.Durable);
        Assert.All(plan.Steps, s => Assert.True(s.Idempotent, s.Name));
    }

    /// <summary>Ordering as the purchase sees it: idempotent by caller and key, replaying the order as it is now; cancel is 409 unless placed.</summary>
    private sealed class FakeOrdering
    {
        private readonly ConcurrentDictionary<string, Order> _byKey = new();
        private readonly ConcurrentDictionary<string, Order> _byId = new();
        private int _posts;
        private int _cancels;

        public sealed class Order(string id)
        {
            public string Id { get; } = id;
            public volatile string Status = "Placed";
        }

        public int Posts => Volatile.Read(ref _posts);
        public int Cancels => Volatile.Read(ref _cancels);
        public int Placed => _byId.Count;
        public TaskCompletionSource Gate { get; set; } = CompletedGate();

        /// <summary>Given the call's number, its context and a way to place its order: an answer instead of the usual one, or null.</summary>
        public Func<int, HttpContext, Func<Order>, IResult?>? Behaviour { get; set; }
        public TaskCompletionSource PostArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Order Single() => Assert.Single(_byId.Values);

        public Order Place(string key, string user) => _byKey.GetOrAdd(user + "\n" + key, _ =>
        {
            var order = new Order("ord-" + Guid.NewGuid().ToString("N")[..8]);
            _byId[order.Id] = order;
            return order;
        });

        public void Map(IEndpointRouteBuilder app)
        {
            app.MapPost("/api/orders", async (HttpContext context) =>
            {
                var n = Interlocked.Increment(ref _posts);
                PostArrived.TrySetResult();
                await Gate.Task;
                var key = context.Request.Headers["Idempotency-Key"].ToString();
                var user = Subject(context.Request.Headers.Authorization.ToString());
                if (Behaviour?.Invoke(n, context, () => Place(key, user)) is { } instead)
                {
                    return instead;
                }
                var replay = _byKey.ContainsKey(user + "\n" + key);
                var order = Place(key, user);
                if (replay)
                {
                    context.Response.Headers["Idempotent-Replayed"] = "true";
                }
                return Results.Json(new { id = order.Id, status = order.Status, total = 50000 }, statusCode: 201);
            });
            app.MapPost("/api/orders/{id}/cancel", (string id) =>
            {
                Interlocked.Increment(ref _cancels);
                if (!_byId.TryGetValue(id, out var order))
                {
                    return Results.Problem(statusCode: 404);
                }
                if (order.Status != "Placed")
                {
                    return Results.Problem(statusCode: 409, title: "Order cannot be cancelled");
                }
                order.Status = "Cancelled";
                return Results.Json(new { id, status = order.Status });
            });
        }

        private static TaskCompletionSource CompletedGate()
        {
            var gate = new TaskCompletionSource();
            gate.SetResult();
            return gate;
        }

        /// <summary>The token's <c>sub</c>; the stand-in trusts the gateway to have checked the token.</summary>
        private static string Subject(string authorization)
        {
            var payload = authorization.Split('.')[1].Replace('-', '+').Replace('_', '/');
            payload += new string('=', (4 - payload.Length % 4) % 4);
            using var json = JsonDocument.Parse(Convert.FromBase64String(payload));
            return json.RootElement.GetProperty("sub").GetString()!;
        }
    }

    /// <summary>
    /// Loyalty's Accrue over h2c, framed by hand: idempotent by order id (a repeat gets the first reply), with a
    /// behaviour per call that can refuse, hold the reply, or apply and drop the connection before replying.
    /// </summary>
    private sealed class FakeLoyalty
    {
        private int _calls;

        public ConcurrentDictionary<string, AccrueReply> Applied { get; } = new();
        public int Calls => Volatile.Read(ref _calls);
        public TaskCompletionSource FirstCall { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Given the call's number (from 1), the request and its context: the gRPC status to answer (0: apply and reply).</summary>
        public Func<int, AccrueRequest, HttpContext, Task<(int Status, string Message)>> Behaviour { get; set; } = (_, _, _) => Task.FromResult((0, ""));

        public AccrueReply Apply(AccrueRequest request) =>
            Applied.GetOrAdd(request.OrderId, _ => new AccrueReply { PointsEarned = request.Amount / 100, Balance = request.Amount / 100 });

        public void Map(IEndpointRouteBuilder app) => app.MapPost("/loyalty.v1.Loyalty/Accrue", async context =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            var bytes = buffer.ToArray();
            var request = AccrueRequest.Parser.ParseFrom(bytes, 5, (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1)));
            var n = Interlocked.Increment(ref _calls);
            FirstCall.TrySetResult();

            var (status, message) = await Behaviour(n, request, context);
            if (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }
            context.Response.ContentType = "application/grpc";
            if (status == 0)
            {
                var payload = Apply(request).ToByteArray();
                var frame = new byte[5 + payload.Length];
                BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
                payload.CopyTo(frame, 5);
                await context.Response.Body.WriteAsync(frame);
            }
            context.Response.AppendTrailer("grpc-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (message.Length > 0)
            {
                context.Response.AppendTrailer("grpc-message", Uri.EscapeDataString(message));
            }
        });
    }
}

using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Resilience;

public sealed class ResilienceTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ThreeInstances_OneKilledMidRun_NoClientErrors()
    {
        var backends = new List<TestBackend>();
        for (var i = 0; i < 3; i++)
        {
            var name = $"b{i}";
            backends.Add(await TestBackend.StartAsync(name, app => app.MapGet("/svc/item", async () =>
            {
                await Task.Delay(2);
                return name;
            })));
        }
        try
        {
            await using var gateway = await GatewayTestHost.StartAsync(
                ResilienceJson.Create("svc", backends.Select(b => b.Address), new { Retry = new { BaseDelay = "00:00:00.005" } }));
            using var retries = new MetricCollector<long>(gateway.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "Portico.Gateway", "portico.gateway.retries");

            const int total = 2000;
            var failed = 0;
            var sent = 0;
            await Parallel.ForAsync(0, total, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct }, async (_, ct) =>
            {
                if (Interlocked.Increment(ref sent) == total / 3)
                {
                    await backends[0].KillAsync();
                }
                using var response = await gateway.Client.GetAsync("/svc/item", ct);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failed);
                }
            });

            var retried = retries.GetMeasurementSnapshot().Sum(m => m.Value);
            output.WriteLine($"{total} GETs, instance b0 killed after {total / 3}: {failed} client errors, {retried} attempts retried; " +
                $"served b0={backends[0].RequestCount} b1={backends[1].RequestCount} b2={backends[2].RequestCount}");
            Assert.Equal(0, failed);
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SlowInstance_PastAttemptTimeout_RequestSucceedsOnAnotherWellUnderItsDelay()
    {
        await using var fast = await TestBackend.StartAsync("fast", app => app.MapGet("/svc/item", () => "fast"));
        await using var slow = await TestBackend.StartAsync("slow", app => app.MapGet("/svc/item", async (CancellationToken ct) =>
        {
            await Task.Delay(2000, ct);
            return "slow";
        }));
        await using var gateway = await GatewayTestHost.StartAsync(
            ResilienceJson.Create("svc", [slow.Address, fast.Address], new { AttemptTimeout = "00:00:00.500" }));

        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 6; i++)
        {
            var clock = Stopwatch.StartNew();
            var body = await gateway.Client.GetStringAsync("/svc/item", Ct);
            slowest = clock.Elapsed > slowest ? clock.Elapsed : slowest;
            Assert.Equal("fast", body);
        }

        output.WriteLine($"slowest of 6 requests: {slowest.TotalMilliseconds:0} ms; the slow instance was tried {slow.RequestCount} times");
        Assert.True(slow.RequestCount >= 1, "round robin sent some attempts to the slow instance");
        // Not a performance bound: finishing before the slow instance's 2 s delay proves nobody waited for it.
        Assert.True(slowest < TimeSpan.FromMilliseconds(1900), $"slowest took {slowest}");
    }

    [Fact]
    public async Task PostWithoutIdempotencyKey_ToFailingInstance_IsNeverRetried_ButWithTheKeyItIs()
    {
        var bodies = new System.Collections.Concurrent.ConcurrentBag<string>();
        var backends = new List<TestBackend>();
        for (var i = 0; i < 3; i++)
        {
            backends.Add(await TestBackend.StartAsync($"b{i}", app => app.MapPost("/svc/orders", async (HttpRequest request) =>
            {
                bodies.Add(await new StreamReader(request.Body).ReadToEndAsync());
                return Results.StatusCode(503);
            })));
        }
        try
        {
            await using var gateway = await GatewayTestHost.StartAsync(
                ResilienceJson.Create("svc", backends.Select(b => b.Address), new { Retry = new { BaseDelay = "00:00:00.001" } }));

            using var withoutKey = await gateway.Client.PostAsync("/svc/orders", new StringContent("{\"n\":1}"), Ct);
            var attemptsWithoutKey = backends.Sum(b => b.RequestCount);

            using var keyed = new HttpRequestMessage(HttpMethod.Post, "/svc/orders") { Content = new StringContent("{\"n\":2}") };
            keyed.Headers.Add("Idempotency-Key", "k-123");
            using var withKey = await gateway.Client.SendAsync(keyed, Ct);
            var attemptsWithKey = backends.Sum(b => b.RequestCount) - attemptsWithoutKey;

            output.WriteLine($"POST without key: {attemptsWithoutKey} attempt(s); with Idempotency-Key: {attemptsWithKey}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, withoutKey.StatusCode);
            Assert.Equal(1, attemptsWithoutKey);
            Assert.Equal(3, attemptsWithKey);
            Assert.Equal(3, backends.Count(b => b.RequestCount >= 1));
            Assert.Equal(3, bodies.Count(b => b == "{\"n\":2}"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, withKey.StatusCode);
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task EveryDestinationFailing_UpstreamAttemptsStayWithinTheRetryBudget()
    {
        var backends = new List<TestBackend>();
        for (var i = 0; i < 3; i++)
        {
            backends.Add(await TestBackend.StartAsync($"b{i}", app => app.MapGet("/svc/item", () => Results.StatusCode(503))));
        }
        try
        {
            var policy = new
            {
                Retry = new { MaxRetries = 2, BaseDelay = "00:00:00", BudgetRatio = 0.1, BudgetMinRetries = 5 },
                CircuitBreaker = new { Enabled = false },
            };
            await using var gateway = await GatewayTestHost.StartAsync(ResilienceJson.Create("svc", backends.Select(b => b.Address), policy));

            const int requests = 300;
            await Parallel.ForAsync(0, requests, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (_, ct) =>
            {
                using var response = await gateway.Client.GetAsync("/svc/item", ct);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            });

            var attempts = backends.Sum(b => b.RequestCount);
            var ceiling = requests + (int)(requests * 0.1) + 5;
            output.WriteLine($"{requests} requests, all failing: {attempts} upstream attempts (budget ceiling {ceiling}; without a budget {requests * 3})");
            Assert.InRange(attempts, requests + 1, ceiling);
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Breaker_OpensAfterThreshold_AnswersFastWhileOpen_ThenHalfOpensAndCloses()
    {
        var failing = true;
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/svc/item", () => Volatile.Read(ref failing) ? Results.StatusCode(500) : Results.Text("ok")));
        var policy = new
        {
            Retry = new { MaxRetries = 0 },
            CircuitBreaker = new { FailureRatio = 0.5, MinimumThroughput = 10, SamplingDuration = "00:00:05", BreakDuration = "00:00:03" },
        };
        // The breaker's clock is the gateway's: the break passes when the test moves the clock, not by waiting.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await GatewayTestHost.StartAsync(ResilienceJson.Create("svc", [backend.Address], policy), time);

        for (var i = 0; i < 10; i++)
        {
            using var response = await gateway.Client.GetAsync("/svc/item", Ct);
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        }
        var reachedBeforeOpen = backend.RequestCount;

        var latencies = new List<double>();
        for (var i = 0; i < 50; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await gateway.Client.GetAsync("/svc/item", Ct);
            latencies.Add(clock.Elapsed.TotalMilliseconds);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(response.Headers.RetryAfter);
        }
        latencies.Sort();
        Assert.Equal(reachedBeforeOpen, backend.RequestCount);
        using var adminRequest = new HttpRequestMessage(HttpMethod.Get, "/portico/api/clusters");
        adminRequest.Headers.Authorization = new("Bearer", gateway.Tokens.CreateToken("admin-1", ["admin"]));
        using var adminResponse = await gateway.Client.SendAsync(adminRequest, Ct);
        var admin = await adminResponse.Content.ReadAsStringAsync(Ct);
        Assert.Contains("\"state\":\"open\"", admin, StringComparison.Ordinal);
        Assert.Contains("\"passiveHealth\":\"Unhealthy\"", admin, StringComparison.Ordinal);

        Volatile.Write(ref failing, false);
        // Still open just before the break ends; the destination is let back in once it has.
        time.Advance(TimeSpan.FromSeconds(2.9));
        using (var stillOpen = await gateway.Client.GetAsync("/svc/item", Ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, stillOpen.StatusCode);
        }
        Assert.Equal(reachedBeforeOpen, backend.RequestCount);
        time.Advance(TimeSpan.FromSeconds(0.2));
        await Poll.UntilAsync(async () =>
        {
            using var response = await gateway.Client.GetAsync("/svc/item", Ct);
            return response.StatusCode == HttpStatusCode.OK;
        }, "the breaker to half-open and close after the destination recovered");
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("ok", await gateway.Client.GetStringAsync("/svc/item", Ct));
        }

        output.WriteLine($"breaker open: 50 answers of 503, p50 {latencies[25]:0.0} ms, p99 {latencies[49]:0.0} ms; upstream saw none of them");
    }

    [Fact]
    public async Task ConcurrencyLimit_SheddsTheExcessWith503_AndOtherRoutesStayNormal()
    {
        var inFlight = 0;
        var maxInFlight = 0;
        await using var slow = await TestBackend.StartAsync("slow", app => app.MapGet("/svc/item", async () =>
        {
            var now = Interlocked.Increment(ref inFlight);
            int seen;
            while (now > (seen = Volatile.Read(ref maxInFlight)) && Interlocked.CompareExchange(ref maxInFlight, now, seen) != seen)
            {
            }
            await Task.Delay(300);
            Interlocked.Decrement(ref inFlight);
            return "slow";
        }));
        await using var other = await TestBackend.StartAsync("other", app => app.MapGet("/other/item", () => "other"));
        var config = ResilienceJson.WithPlainRoute(
            ResilienceJson.Create("svc", [slow.Address], new { Concurrency = new { Limit = 50, QueueLimit = 0 } }),
            "other", other.Address);
        await using var gateway = await GatewayTestHost.StartAsync(config);

        var ok = 0;
        var shed = 0;
        var retryAfterOnShed = true;
        var slowBurst = Parallel.ForAsync(0, 500, new ParallelOptions { MaxDegreeOfParallelism = 500, CancellationToken = Ct }, async (_, ct) =>
        {
            using var response = await gateway.Client.GetAsync("/svc/item", ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                Interlocked.Increment(ref ok);
            }
            else if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Interlocked.Increment(ref shed);
                retryAfterOnShed &= response.Headers.RetryAfter is not null;
            }
        });
        var otherOk = 0;
        var otherSlowest = TimeSpan.Zero;
        for (var i = 0; i < 50; i++)
        {
            var clock = Stopwatch.StartNew();
            using var response = await gateway.Client.GetAsync("/other/item", Ct);
            otherSlowest = clock.Elapsed > otherSlowest ? clock.Elapsed : otherSlowest;
            otherOk += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }
        await slowBurst;

        output.WriteLine($"500 concurrent to a cluster limited to 50: {ok} served, {shed} shed with 503; upstream peak concurrency {maxInFlight}; " +
            $"other route: {otherOk}/50 ok, slowest {otherSlowest.TotalMilliseconds:0} ms");
        Assert.Equal(500, ok + shed);
        Assert.True(shed > 0, "the excess was shed");
        Assert.True(retryAfterOnShed, "every shed answer says when to retry");
        Assert.InRange(maxInFlight, 1, 50);
        Assert.Equal(50, otherOk);
    }
}

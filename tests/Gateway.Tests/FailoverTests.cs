using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

public sealed class FailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task InstanceStoppedDuringStream_FailuresStayUnderOnePercent_AndAllSucceedAfterDetection()
    {
        var a = await TestBackend.StartAsync("a", app => app.MapGet("/svc/item", () => "a"));
        await using var b = await TestBackend.StartAsync("b", app => app.MapGet("/svc/item", () => "b"));
        var config = GatewayJson.Create([("svc", "/svc/{**rest}", "svc")], [("svc", [a.Address, b.Address])], loadBalancing: "RoundRobin");
        await using var gateway = await GatewayTestHost.StartAsync(config);

        const int total = 2000;
        const int stopAt = 500;
        var failed = 0;
        var failedAfterDetection = 0;
        var detectedAt = -1;
        var sent = 0;
        var clock = Stopwatch.StartNew();
        await Parallel.ForAsync(0, total, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (_, ct) =>
        {
            var n = Interlocked.Increment(ref sent);
            if (n == stopAt)
            {
                await a.StopAsync();
                Volatile.Write(ref detectedAt, n);
            }
            using var response = await gateway.Client.GetAsync("/svc/item", ct);
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref failed);
                if (detectedAt >= 0 && n > detectedAt + 200)
                {
                    Interlocked.Increment(ref failedAfterDetection);
                }
            }
        });
        await a.DisposeAsync();

        output.WriteLine($"{total} requests in {clock.ElapsedMilliseconds} ms; instance a stopped at request {stopAt}; " +
            $"failed during the switch: {failed} ({100.0 * failed / total:0.00}%); a served {a.RequestCount}, b served {b.RequestCount}");
        Assert.True(failed < total / 100, $"{failed} of {total} failed");
        Assert.Equal(0, failedAfterDetection);
        Assert.True(b.RequestCount > total - stopAt, "b took over the traffic");
    }
}

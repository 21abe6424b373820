using Microsoft.AspNetCore.Builder;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

public sealed class LoadBalancingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(null)] // Portico's default: PowerOfTwoChoices
    [InlineData("RoundRobin")]
    [InlineData("LeastRequests")]
    public async Task ThousandGets_SpreadOverTwoInstances_EachGets30To70Percent(string? policy)
    {
        await using var a = await TestBackend.StartAsync("a", app => app.MapGet("/svc/item", () => "a"));
        await using var b = await TestBackend.StartAsync("b", app => app.MapGet("/svc/item", () => "b"));
        var config = GatewayJson.Create([("svc", "/svc/{**rest}", "svc")], [("svc", [a.Address, b.Address])], loadBalancing: policy);
        await using var gateway = await GatewayTestHost.StartAsync(config);

        const int total = 1000;
        var ok = 0;
        // Eight callers at once, so that load-aware policies see concurrent requests.
        await Parallel.ForAsync(0, total, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
        {
            using var response = await gateway.Client.GetAsync("/svc/item", ct);
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref ok);
            }
        });

        output.WriteLine($"{policy ?? "default"}: a={a.RequestCount} b={b.RequestCount}");
        Assert.Equal(total, ok);
        Assert.Equal(total, a.RequestCount + b.RequestCount);
        Assert.InRange(a.RequestCount, 300, 700);
        Assert.InRange(b.RequestCount, 300, 700);
    }
}

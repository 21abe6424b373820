using System.Net;
using Microsoft.AspNetCore.Builder;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

public sealed class HotReloadTests
{
    [Fact]
    public async Task RouteAddedToFile_ServesWithoutRestart_AndBrokenEditKeepsOldRoutes()
    {
        await using var backend = await TestBackend.StartAsync("svc", app =>
        {
            app.MapGet("/old/x", () => "old");
            app.MapGet("/new/x", () => "new");
        });
        var oldOnly = GatewayJson.Create([("old", "/old/{**rest}", "svc")], [("svc", [backend.Address])]);
        var oldAndNew = GatewayJson.Create([("old", "/old/{**rest}", "svc"), ("new", "/new/{**rest}", "svc")], [("svc", [backend.Address])]);
        await using var gateway = await GatewayTestHost.StartAsync(oldOnly);
        var ct = TestContext.Current.CancellationToken;

        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client.GetAsync("/new/x", ct)).StatusCode);

        await gateway.WriteConfigAsync(oldAndNew);
        Assert.True(await Eventually(async () => (await gateway.Client.GetAsync("/new/x", ct)).StatusCode == HttpStatusCode.OK), "the added route serves");

        // Broken in two ways at once: a syntax error, then a reference to a cluster that does not exist.
        await gateway.WriteConfigAsync(oldAndNew[..^10]);
        await Task.Delay(1000, ct);
        await gateway.WriteConfigAsync(oldAndNew.Replace("\"ClusterId\": \"svc\"", "\"ClusterId\": \"missing\"", StringComparison.Ordinal));
        await Task.Delay(1000, ct);

        Assert.Equal("old", await gateway.Client.GetStringAsync("/old/x", ct));
        Assert.Equal("new", await gateway.Client.GetStringAsync("/new/x", ct));

        // The watcher survives a rejected edit: the next good edit still applies.
        await gateway.WriteConfigAsync(oldOnly);
        Assert.True(await Eventually(async () => (await gateway.Client.GetAsync("/new/x", ct)).StatusCode == HttpStatusCode.NotFound), "the removed route is gone");
        Assert.Equal("old", await gateway.Client.GetStringAsync("/old/x", ct));
    }

    private static async Task<bool> Eventually(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await condition())
            {
                return true;
            }
            await Task.Delay(100);
        }
        return false;
    }
}

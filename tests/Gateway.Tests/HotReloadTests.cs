using System.Net;
using Microsoft.AspNetCore.Builder;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

public sealed class HotReloadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

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

        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client.GetAsync("/new/x", Ct)).StatusCode);

        await gateway.WriteConfigAsync(oldAndNew);
        await Poll.UntilAsync(async () => (await gateway.Client.GetAsync("/new/x", Ct)).StatusCode == HttpStatusCode.OK, "the added route to serve");

        // Broken in two ways, one edit after the other: a syntax error, then a reference to a cluster that does not
        // exist. Each is read and refused (the log says so) before the old routes are checked.
        await gateway.WriteConfigAsync(oldAndNew[..^10]);
        await UntilRejectedAsync(gateway, 1);
        await gateway.WriteConfigAsync(oldAndNew.Replace("\"ClusterId\": \"svc\"", "\"ClusterId\": \"missing\"", StringComparison.Ordinal));
        await UntilRejectedAsync(gateway, 2);

        Assert.Equal("old", await gateway.Client.GetStringAsync("/old/x", Ct));
        Assert.Equal("new", await gateway.Client.GetStringAsync("/new/x", Ct));

        // The watcher survives a rejected edit: the next good edit still applies.
        await gateway.WriteConfigAsync(oldOnly);
        await Poll.UntilAsync(async () => (await gateway.Client.GetAsync("/new/x", Ct)).StatusCode == HttpStatusCode.NotFound, "the removed route to go");
        Assert.Equal("old", await gateway.Client.GetStringAsync("/old/x", Ct));
    }

    /// <summary>Waits for the gateway's log to report <paramref name="count"/> refused edits of its file.</summary>
    internal static Task UntilRejectedAsync(GatewayTestHost gateway, int count) =>
        Poll.UntilAsync(() => gateway.Logs.GetSnapshot().Count(r => r.Id.Name == "ReloadRejected") >= count, $"refused edit #{count} to be logged");
}

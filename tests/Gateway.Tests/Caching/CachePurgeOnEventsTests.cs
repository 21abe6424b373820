using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Portico.Gateway.Caching;
using Portico.Messaging;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Caching;

/// <summary>
/// <c>Portico:Caching:PurgeOn</c>: an event (Catalog's <c>ProductChanged.v1</c>) purges cache tags on every gateway
/// instance. The instances share one queue, so one of them handles each event; the shared store's purge fans out.
/// </summary>
public sealed class CachePurgeOnEventsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Result(HttpResponseMessage response) =>
        response.Headers.TryGetValues(CachePolicies.ResultHeader, out var v) ? v.Single() : "(none)";

    [Fact]
    public async Task ProductChanged_PurgesTheCachedProductList_OnTwoGatewaysSharingAStore()
    {
        using var store = GarnetTestServer.Start();
        var version = 1;
        await using var catalog = await TestBackend.StartAsync("catalog", app => app.MapGet("/api/products", (HttpContext context) =>
        {
            // As Catalog answers: cacheable by shared caches for a long while; only a purge makes a gateway ask again.
            context.Response.Headers.CacheControl = "public, max-age=300";
            return Results.Json(new { items = new[] { new { id = 1, price = 1000 * Volatile.Read(ref version) } } });
        }));
        var json = CacheJson.Create("api", catalog.Address, new { Tags = new[] { "products" } });
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store.ConnectionString,
            ["Portico:Caching:PurgeOn:ProductChanged.v1:0"] = "products",
            ["Messaging:PollInterval"] = "00:00:00.05",
        };
        await using var first = await GatewayTestHost.StartAsync(json, settings);
        await using var second = await GatewayTestHost.StartAsync(json, settings);
        using var publisher = await StartPublisherAsync(store.ConnectionString);
        await Poll.UntilAsync(() => ConsumingAsync(first.Services), "the first gateway to consume");
        await Poll.UntilAsync(() => ConsumingAsync(second.Services), "the second gateway to consume");

        Assert.Equal("MISS", Result(await first.Client.GetAsync("/api/products", Ct)));
        Assert.Equal("HIT", Result(await second.Client.GetAsync("/api/products", Ct)));
        Interlocked.Exchange(ref version, 2); // the product changes in Catalog...
        Assert.Contains("\"price\":1000}", await first.Client.GetStringAsync("/api/products", Ct), StringComparison.Ordinal);
        Assert.Contains("\"price\":1000}", await second.Client.GetStringAsync("/api/products", Ct), StringComparison.Ordinal); // ...and both still serve the old list
        Assert.Equal(1, catalog.HitsFor("/api/products"));

        await publisher.Services.GetRequiredService<IMessageBus>().PublishAsync(new ProductChanged(1), cancellationToken: Ct);

        // Each instance serves the new list: neither its memory tier nor the store keeps the old one.
        await Poll.UntilAsync(async () => (await second.Client.GetStringAsync("/api/products", Ct)).Contains("\"price\":2000}", StringComparison.Ordinal), "the second gateway to serve the new list");
        await Poll.UntilAsync(async () => (await first.Client.GetStringAsync("/api/products", Ct)).Contains("\"price\":2000}", StringComparison.Ordinal), "the first gateway to serve the new list");
        Assert.InRange(catalog.HitsFor("/api/products"), 2, 3);
        Assert.Equal("HIT", Result(await first.Client.GetAsync("/api/products", Ct)));
        Assert.Equal("HIT", Result(await second.Client.GetAsync("/api/products", Ct)));
    }

    [Fact]
    public async Task PurgeOn_UnknownEventOrNoTag_FailsStartNamingEach()
    {
        using var store = GarnetTestServer.Start();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store.ConnectionString,
            ["Portico:Caching:PurgeOn:PriceCut.v1:0"] = "products",
            ["Portico:Caching:PurgeOn:ProductChanged.v1:0"] = " ",
            ["Portico:Caching:PurgeQueue"] = "gateway purge",
        };

        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayTestHost.StartAsync(GatewayJson.Single("api", new Uri("http://127.0.0.1:1")), settings));

        Assert.Contains(e.Failures, f => f.Contains("Portico:Caching:PurgeOn:PriceCut.v1", StringComparison.Ordinal) && f.Contains("ProductChanged.v1", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Portico:Caching:PurgeOn:ProductChanged.v1", StringComparison.Ordinal) && f.Contains("tag", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.Contains("Portico:Caching:PurgeQueue", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PurgeOn_WithoutABrokerOrStore_LoadsNoMessaging_AndTheGatewayServes()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/api/x", () => "x"));

        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("api", backend.Address),
            new Dictionary<string, string?> { ["Portico:Caching:PurgeOn:ProductChanged.v1:0"] = "products" });

        Assert.Null(gateway.Services.GetService<IMessageBus>());
        Assert.Equal("x", await gateway.Client.GetStringAsync("/api/x", Ct));
    }

    [Fact]
    public void AddPorticoMessaging_CalledAgainBesideThePurge_RegistersTheBuildingBlockOnce()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = "127.0.0.1:1",
            ["Portico:Caching:PurgeOn:ProductChanged.v1:0"] = "products",
        });
        builder.AddPorticoCachePurgeOnEvents();
        var hostedServices = builder.Services.Count(d => d.ServiceType == typeof(IHostedService));
        var descriptors = builder.Services.Count;

        // Another gateway feature (async jobs) registers messaging for its own handlers.
        builder.AddPorticoMessaging().AddMessage(PublisherJsonContext.Default.ProductChanged);

        Assert.Equal(1, builder.Services.Count(d => d.ServiceType == typeof(IMessageBus)));
        Assert.Equal(hostedServices, builder.Services.Count(d => d.ServiceType == typeof(IHostedService)));
        Assert.Equal(descriptors, builder.Services.Count);
        using var services = builder.Services.BuildServiceProvider();
        var checks = services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations.Select(r => r.Name).ToList();
        Assert.Equal(checks.Distinct().Count(), checks.Count);
    }

    private static async Task<bool> ConsumingAsync(IServiceProvider services) =>
        (await services.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Name == "messaging", Ct)).Status == HealthStatus.Healthy;

    /// <summary>Catalog's side of the wire: publishes <c>ProductChanged.v1</c> to the store.</summary>
    private static async Task<IHost> StartPublisherAsync(string store)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:store"] = store });
        builder.AddPorticoMessaging().AddMessage(PublisherJsonContext.Default.ProductChanged);
        var host = builder.Build();
        await host.StartAsync(Ct);
        return host;
    }

    /// <summary>The publisher's copy of the contract: services share the wire, not the type.</summary>
    public sealed record ProductChanged(int ProductId) : IIntegrationMessage
    {
        public static string MessageType => "ProductChanged.v1";
    }

    private static class Poll
    {
        public static async Task UntilAsync(Func<Task<bool>> condition, string what)
        {
            var deadline = TimeProvider.System.GetTimestamp() + (20 * TimeProvider.System.TimestampFrequency);
            while (!await condition())
            {
                Assert.True(TimeProvider.System.GetTimestamp() < deadline, $"Timed out waiting for {what}.");
                await Task.Delay(25, Ct);
            }
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CachePurgeOnEventsTests.ProductChanged))]
internal sealed partial class PublisherJsonContext : JsonSerializerContext;

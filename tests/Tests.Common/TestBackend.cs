using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Portico.Tests.Common;

/// <summary>
/// A real Kestrel server on 127.0.0.1:0 that stands in for a service behind the gateway.
/// It counts every request it receives, so tests can prove what did (or did not) reach it.
/// </summary>
public sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _hitsByPath = new(StringComparer.Ordinal);
    private int _requestCount;

    private TestBackend(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Requests received, health probes excluded.</summary>
    public int RequestCount => Volatile.Read(ref _requestCount);

    public int HitsFor(string path) => _hitsByPath.TryGetValue(path, out var n) ? n : 0;

    /// <summary>
    /// Starts a backend named <paramref name="name"/>. It always answers <c>/health/ready</c> and
    /// <c>/health/live</c> with 200; <paramref name="map"/> adds the endpoints a test needs.
    /// </summary>
    public static async Task<TestBackend> StartAsync(string name, Action<IEndpointRouteBuilder>? map = null, CancellationToken cancellationToken = default) =>
        await StartAsync(name, map, HttpProtocols.Http1, cancellationToken);

    /// <summary>As above, speaking <paramref name="protocols"/>: <c>Http2</c> gives h2c with prior knowledge, as gRPC services do.</summary>
    public static async Task<TestBackend> StartAsync(string name, Action<IEndpointRouteBuilder>? map, HttpProtocols protocols, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.Protocols = protocols));
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        var backend = new TestBackend(app, name);

        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/health"))
            {
                Interlocked.Increment(ref backend._requestCount);
                backend._hitsByPath.AddOrUpdate(context.Request.Path.Value ?? "/", 1, (_, n) => n + 1);
            }
            await next(context);
        });
        app.MapGet("/health/ready", () => Results.Text("Healthy"));
        app.MapGet("/health/live", () => Results.Text("Healthy"));
        map?.Invoke(app);

        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        backend.Address = new Uri(address.EndsWith('/') ? address : address + "/");
        return backend;
    }

    /// <summary>Stops accepting connections; in-flight requests get a short grace period.</summary>
    public async Task StopAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(cts.Token);
    }

    /// <summary>Stops at once: open connections and requests in flight are aborted, as when a process dies.</summary>
    public async Task KillAsync()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await _app.StopAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }
}

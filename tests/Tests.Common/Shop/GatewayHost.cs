using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Configuration;

namespace Portico.Tests.Common;

/// <summary>
/// The gateway as Gateway.Host composes it (the same extension calls), on a real Kestrel port, reading the gateway
/// file it is given from a temporary content root, with the settings and clock it is given. Its logs are dropped
/// unless <c>PORTICO_TEST_LOGS</c> is set.
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _folder;
    private bool _disposed;

    private GatewayHost(WebApplication app, string folder, Uri address)
    {
        _app = app;
        _folder = folder;
        Address = address;
    }

    /// <summary>Base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address { get; }

    /// <param name="gatewayJson">The gateway file (<c>gateway.json</c>): routes, clusters, Portico's policies.</param>
    /// <param name="settings">Configuration beside it (store, key set, service identity).</param>
    /// <param name="clock">The gateway's clock; null for the system clock.</param>
    /// <param name="configure">What the host adds to the gateway beyond the defaults (e.g. gRPC contracts).</param>
    public static async Task<GatewayHost> StartAsync(
        string gatewayJson, IReadOnlyDictionary<string, string?> settings, TimeProvider? clock = null, Action<IReverseProxyBuilder>? configure = null)
    {
        var folder = Directory.CreateTempSubdirectory("portico-test-gw-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "gateway.json"), gatewayJson);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Test" });
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.Logging.ClearProviders();
        }
        ListenOptions? http = null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => http = listen));
        builder.Configuration.AddInMemoryCollection(settings);
        if (clock is not null)
        {
            builder.Services.AddSingleton(clock);
        }
        builder.AddServiceDefaults();
        builder.AddJwtAuthentication();
        var gateway = builder.AddPorticoGateway();
        configure?.Invoke(gateway);

        var app = builder.Build();
        try
        {
            app.UsePorticoGateway();
            app.MapDefaultEndpoints();
            app.MapPorticoGateway();
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            Directory.Delete(folder, recursive: true);
            throw;
        }
        return new GatewayHost(app, folder, new Uri($"http://127.0.0.1:{http!.IPEndPoint!.Port}/"));
    }

    /// <summary>A plain client of the gateway.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = Address };

    /// <summary>Stops at once, as when the process dies: connections and requests in flight are aborted, then everything is disposed.</summary>
    public async Task KillAsync()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        try
        {
            await _app.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopping with a cancelled token is the point.
        }
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A watcher may still hold the folder for a moment; the temp folder is cleaned by the OS.
        }
    }
}

using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Portico.Tests.Common;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Portico.Gateway.Tests;

/// <summary>
/// The gateway as Gateway.Host runs it (same extension calls), on a real Kestrel port, reading a gateway
/// file from its own temporary folder so tests can edit it.
/// </summary>
public sealed class GatewayTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TestBackend _jwks;
    private bool _disposed;

    private GatewayTestHost(WebApplication app, string folder, HttpClient client, TestTokenIssuer tokens, TestBackend jwks)
    {
        _app = app;
        Folder = folder;
        Client = client;
        Tokens = tokens;
        _jwks = jwks;
    }

    /// <summary>Issues tokens this gateway accepts; its key set is served by a stand-in for Identity.</summary>
    public TestTokenIssuer Tokens { get; }

    /// <summary>How often the gateway fetched the key set.</summary>
    public int JwksFetches => _jwks.RequestCount;

    /// <summary>The HTTP/2-only (h2c) endpoint; <see cref="Client"/> speaks HTTP/1.1 to the other one.</summary>
    public IPEndPoint H2cEndPoint { get; private init; } = null!;

    /// <summary>A client reaching the gateway on the non-loopback address it was also told to listen on; null otherwise.</summary>
    public HttpClient? RemoteClient { get; private init; }

    public string Folder { get; }
    public string ConfigPath => Path.Combine(Folder, "gateway.json");
    public HttpClient Client { get; }
    public IServiceProvider Services => _app.Services;

    /// <summary>Every log record the gateway wrote.</summary>
    public FakeLogCollector Logs => _app.Services.GetFakeLogCollector();

    /// <summary>Builds the gateway; throws what start-up throws when the gateway file is invalid.</summary>
    public static Task<GatewayTestHost> StartAsync(string gatewayJson, IDictionary<string, string?>? settings = null,
        params Google.Protobuf.Reflection.FileDescriptor[] grpcContracts) => StartAsync(gatewayJson, time: null, settings, grpcContracts);

    /// <summary>As above, with the gateway's clock replaced (a <c>FakeTimeProvider</c>) when <paramref name="time"/> is set.</summary>
    public static Task<GatewayTestHost> StartAsync(string gatewayJson, TimeProvider? time, IDictionary<string, string?>? settings = null,
        params Google.Protobuf.Reflection.FileDescriptor[] grpcContracts) => StartAsync(gatewayJson, time, settings, alsoListenOn: null, grpcContracts);

    /// <summary>As above, also listening on <paramref name="alsoListenOn"/> (a non-loopback address: see <see cref="RemoteClient"/>).</summary>
    public static async Task<GatewayTestHost> StartAsync(string gatewayJson, TimeProvider? time, IDictionary<string, string?>? settings,
        IPAddress? alsoListenOn, params Google.Protobuf.Reflection.FileDescriptor[] grpcContracts)
    {
        var tokens = new TestTokenIssuer();
        var jwks = await TestBackend.StartAsync("identity", app => app.MapGet("/.well-known/jwks.json", () => Results.Text(tokens.JwksJson, "application/json")));
        var folder = Directory.CreateTempSubdirectory("portico-gw-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "gateway.json"), gatewayJson);

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Test" });
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.Logging.ClearProviders();
        }
        // What the gateway logs is something a test can wait for (a rejected edit of the gateway file, say).
        builder.Logging.AddFakeLogging();
        // As Gateway.Host: an HTTP/1.1 endpoint, and an HTTP/2-only one for h2c (prior knowledge, RFC 9113 §3.3).
        ListenOptions? http1 = null, h2c = null, remote = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => http1 = listen);
            if (alsoListenOn is not null)
            {
                kestrel.Listen(alsoListenOn, 0, listen => remote = listen);
            }
            kestrel.Listen(IPAddress.Loopback, 0, listen => (h2c = listen).Protocols = HttpProtocols.Http2);
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Portico:HealthChecks:ActiveInterval"] = "00:00:00.500",
            ["Portico:HealthChecks:ActiveTimeout"] = "00:00:00.500",
            ["Portico:Jwt:JwksUrl"] = new Uri(jwks.Address, "/.well-known/jwks.json").ToString(),
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }
        builder.AddServiceDefaults();
        builder.AddJwtAuthentication();
        builder.AddPorticoGateway().AddGrpcContracts(grpcContracts);

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
            await jwks.DisposeAsync();
            throw;
        }

        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http1!.IPEndPoint!.Port}"), Timeout = TimeSpan.FromSeconds(30) };
        return new GatewayTestHost(app, folder, client, tokens, jwks)
        {
            H2cEndPoint = h2c!.IPEndPoint!,
            RemoteClient = remote is null ? null : new HttpClient { BaseAddress = new Uri($"http://{remote.IPEndPoint!}"), Timeout = TimeSpan.FromSeconds(30) },
        };
    }

    /// <summary>Replaces the gateway file the way an editor would.</summary>
    public Task WriteConfigAsync(string json) => File.WriteAllTextAsync(ConfigPath, json);

    /// <summary>
    /// Stops at once, as when the process dies: connections and requests in flight are aborted, then everything is
    /// disposed (its store connection and channels included). Disposing afterwards does nothing more.
    /// </summary>
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
        Client.Dispose();
        RemoteClient?.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _jwks.DisposeAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A watcher may still hold the folder for a moment; the temp folder is cleaned by the OS.
        }
    }
}

/// <summary>Builds gateway files in YARP's shape for tests.</summary>
public static class GatewayJson
{
    /// <summary>Routes are anonymous unless <paramref name="authorizationPolicy"/> says otherwise (null: the secure default).</summary>
    public static string Create(IEnumerable<(string Id, string Path, string Cluster)> routes,
        IEnumerable<(string Id, IEnumerable<Uri> Destinations)> clusters,
        string? loadBalancing = null, long? maxBodySize = null, string? authorizationPolicy = "anonymous")
    {
        var document = new Dictionary<string, object>
        {
            ["ReverseProxy"] = new Dictionary<string, object>
            {
                ["Routes"] = routes.ToDictionary(r => r.Id, r => (object)new Dictionary<string, object?>
                {
                    ["ClusterId"] = r.Cluster,
                    ["Match"] = new Dictionary<string, object> { ["Path"] = r.Path },
                    ["MaxRequestBodySize"] = maxBodySize,
                    ["AuthorizationPolicy"] = authorizationPolicy,
                }.Where(p => p.Value is not null).ToDictionary()),
                ["Clusters"] = clusters.ToDictionary(c => c.Id, c => (object)new Dictionary<string, object?>
                {
                    ["LoadBalancingPolicy"] = loadBalancing,
                    ["Destinations"] = c.Destinations.Select((d, i) => (d, i)).ToDictionary(x => $"{c.Id}-{x.i}", x => new { Address = x.d.ToString() }),
                }.Where(p => p.Value is not null).ToDictionary()),
            },
        };
        return JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>One route <c>/{prefix}/{**rest}</c> to one cluster.</summary>
    public static string Single(string prefix, params Uri[] destinations) =>
        Create([(prefix, $"/{prefix}/{{**rest}}", prefix)], [(prefix, destinations)]);
}

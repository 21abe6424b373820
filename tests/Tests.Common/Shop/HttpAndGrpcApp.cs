using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Portico.Tests.Common;

/// <summary>
/// A service with two endpoints of its own configuration, <c>Kestrel:Endpoints:http</c> (HTTP/1.1) and
/// <c>Kestrel:Endpoints:grpc</c> (h2c), on real Kestrel with both moved to free loopback ports, the settings it is
/// given, and a test clock when given one (Loyalty is such a service). Its logs are dropped unless
/// <c>PORTICO_TEST_LOGS</c> is set.
/// </summary>
public class HttpAndGrpcApp<TEntryPoint> : WebApplicationFactory<TEntryPoint> where TEntryPoint : class
{
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly TimeProvider? _timeProvider;
    private ListenOptions? _http;
    private ListenOptions? _grpc;

    public HttpAndGrpcApp(IReadOnlyDictionary<string, string?> settings, TimeProvider? timeProvider = null)
    {
        _settings = settings;
        _timeProvider = timeProvider;
        UseKestrel();
    }

    /// <summary>The HTTP/1.1 endpoint (health, metrics, admin); the server starts on first use.</summary>
    public Uri HttpAddress
    {
        get
        {
            StartServer();
            return new Uri($"http://127.0.0.1:{_http!.IPEndPoint!.Port}/");
        }
    }

    /// <summary>The HTTP/2-only endpoint that serves gRPC without TLS; the server starts on first use.</summary>
    public Uri GrpcAddress
    {
        get
        {
            StartServer();
            return new Uri($"http://127.0.0.1:{_grpc!.IPEndPoint!.Port}/");
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        var settings = new Dictionary<string, string?>(_settings)
        {
            ["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:0",
        };
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(settings));
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.ConfigureLogging(logging => logging.ClearProviders());
        }
        if (_timeProvider is not null)
        {
            builder.ConfigureServices(services => services.AddSingleton(_timeProvider));
        }
        // The service's own endpoint settings (names, protocols), read again so the test learns which port is which.
        builder.ConfigureServices(services => services.AddOptions<KestrelServerOptions>().Configure<IConfiguration>((kestrel, configuration) =>
            kestrel.Configure(configuration.GetSection("Kestrel"), reloadOnChange: false)
                .Endpoint("http", endpoint => _http = endpoint.ListenOptions)
                .Endpoint("grpc", endpoint => _grpc = endpoint.ListenOptions)));
    }
}

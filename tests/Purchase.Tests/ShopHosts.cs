extern alias CatalogService;
extern alias LoyaltyService;
extern alias OrderingService;

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Portico.Tests.Common;

namespace Portico.Purchase.Tests;

/// <summary>
/// The shop behind a real gateway, every part on its own Kestrel port: Catalog, Ordering and Loyalty (SQLite files),
/// one embedded Garnet store (the gateway's saga log and the services' broker), a stand-in Identity (key set and
/// <c>client_credentials</c>), and a <see cref="TcpProxy"/> between the gateway and each of Ordering and Loyalty's gRPC
/// endpoint, so a test can cut or stall exactly the gateway's calls. The gateway can be killed and started again on
/// the same store (<see cref="RestartGatewayAsync"/>).
/// </summary>
public sealed class Shop : IAsyncDisposable
{
    public const string ServiceSecret = "purchase-tests-service-secret-0123456789-abcdefgh";

    private readonly GarnetTestServer _store = GarnetTestServer.Start();
    private readonly string _catalogDb = TestDatabases.NewPath("catalog");
    private TestBackend _identity = null!;
    private ServiceApp<CatalogService::Program> _catalog = null!;

    private Shop()
    {
    }

    public TestTokenIssuer Tokens { get; } = new();

    public string OrderingDb { get; } = TestDatabases.NewPath("ordering");

    public string LoyaltyDb { get; } = TestDatabases.NewPath("loyalty");

    public ServiceApp<OrderingService::Program> Ordering { get; private set; } = null!;

    public LoyaltyHost Loyalty { get; private set; } = null!;

    /// <summary>Between the gateway and Ordering's HTTP endpoint.</summary>
    public TcpProxy OrderingProxy { get; private set; } = null!;

    /// <summary>Between the gateway and Loyalty's h2c (gRPC) endpoint.</summary>
    public TcpProxy LoyaltyProxy { get; private set; } = null!;

    /// <summary>The gateway now running; replaced by <see cref="RestartGatewayAsync"/>.</summary>
    public GatewayProcess Gateway { get; private set; } = null!;

    /// <summary>How many gateways were started, the first included.</summary>
    public int GatewayStarts { get; private set; }

    public static async Task<Shop> StartAsync()
    {
        var shop = new Shop();
        await shop.InitializeAsync();
        return shop;
    }

    private async Task InitializeAsync()
    {
        var ns = "purchase-tests-" + Guid.NewGuid().ToString("N")[..12];
        _identity = await TestBackend.StartAsync("identity", app =>
        {
            app.MapGet("/.well-known/jwks.json", () => Results.Text(Tokens.JwksJson, "application/json"));
            app.MapPost("/api/auth/token", async (HttpRequest request) =>
            {
                var body = await request.ReadFromJsonAsync<Dictionary<string, string>>();
                return body is not null && body.GetValueOrDefault("grant_type") == "client_credentials" && body.GetValueOrDefault("client_secret") == ServiceSecret
                    ? Results.Json(new Dictionary<string, object> { ["access_token"] = Tokens.CreateToken("client:" + body["client_id"], roles: ["service"]), ["expires_in"] = 900 })
                    : Results.Unauthorized();
            });
        });
        var jwks = new Uri(_identity.Address, "/.well-known/jwks.json").ToString();

        _catalog = new ServiceApp<CatalogService::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:catalogdb"] = $"Data Source={_catalogDb}",
            ["ConnectionStrings:store"] = _store.ConnectionString, // Catalog reserves stock on OrderPlaced
            ["Messaging:Namespace"] = ns,
        });
        Ordering = new ServiceApp<OrderingService::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:orderingdb"] = $"Data Source={OrderingDb}",
            ["ConnectionStrings:store"] = _store.ConnectionString,
            ["Messaging:Namespace"] = ns,
            ["Messaging:Outbox:PollInterval"] = "00:00:00.05",
            ["Portico:Jwt:JwksUrl"] = jwks,
            ["Ordering:CatalogUrl"] = _catalog.Address.ToString(),
        });
        Loyalty = new LoyaltyHost(new Dictionary<string, string?>
        {
            ["ConnectionStrings:loyaltydb"] = $"Data Source={LoyaltyDb}",
            ["ConnectionStrings:store"] = _store.ConnectionString,
            ["Messaging:Namespace"] = ns,
            ["Messaging:PollInterval"] = "00:00:00.05",
            ["Messaging:VisibilityTimeout"] = "00:00:03",
            ["Portico:Jwt:JwksUrl"] = jwks,
            // Only the pass the test asks for, at the end; every placed order qualifies then.
            ["Loyalty:Reconciler:Enabled"] = "false",
            ["Loyalty:Reconciler:GracePeriod"] = "00:00:00",
            ["Loyalty:Reconciler:OrderingUrl"] = Ordering.Address.ToString(),
            ["Loyalty:Reconciler:TokenUrl"] = new Uri(_identity.Address, "/api/auth/token").ToString(),
            ["Loyalty:Reconciler:ClientSecret"] = ServiceSecret,
        });
        OrderingProxy = TcpProxy.Start(Ordering.Address.Port);
        LoyaltyProxy = TcpProxy.Start(Loyalty.GrpcAddress.Port);
        Gateway = await StartGatewayAsync(TimeSpan.Zero);
    }

    /// <summary>
    /// Kills the running gateway as a crash would (requests in flight aborted, nothing flushed) and starts another on the
    /// same store with its clock <paramref name="clockAhead"/> of the real one, so the runs the dead one left are past
    /// their <c>RecoverAfter</c> for it at once, while the runs it starts itself are measured on its own clock.
    /// </summary>
    public async Task RestartGatewayAsync(TimeSpan clockAhead)
    {
        await Gateway.KillAsync();
        Gateway = await StartGatewayAsync(clockAhead);
    }

    private async Task<GatewayProcess> StartGatewayAsync(TimeSpan clockAhead)
    {
        GatewayStarts++;
        return await GatewayProcess.StartAsync(GatewayJson(), new ShiftedClock(clockAhead), new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = _store.ConnectionString,
            ["Portico:Jwt:JwksUrl"] = new Uri(_identity.Address, "/.well-known/jwks.json").ToString(),
            ["Portico:ServiceIdentity:TokenUrl"] = new Uri(_identity.Address, "/api/auth/token").ToString(),
            ["Portico:ServiceIdentity:ClientSecret"] = ServiceSecret,
            ["Portico:SagaRecovery:Interval"] = "00:00:00.200",
        });
    }

    /// <summary>The shipped gateway file's purchase composition and the two clusters it calls, those pointed at the proxies.</summary>
    private string GatewayJson()
    {
        var shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "shipped-gateway.json")),
            documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        var clusters = shipped["ReverseProxy"]!["Clusters"]!;
        var ordering = clusters["ordering"]!.DeepClone();
        ordering["Destinations"] = new JsonObject { ["ordering"] = new JsonObject { ["Address"] = $"http://127.0.0.1:{OrderingProxy.Port}/" } };
        var loyalty = clusters["loyalty-grpc"]!.DeepClone();
        loyalty["Destinations"] = new JsonObject { ["loyalty"] = new JsonObject { ["Address"] = $"http://127.0.0.1:{LoyaltyProxy.Port}/" } };
        return new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = new JsonObject(),
                ["Clusters"] = new JsonObject { ["ordering"] = ordering, ["loyalty-grpc"] = loyalty },
            },
            ["Portico"] = new JsonObject
            {
                ["Compositions"] = new JsonObject { ["purchase"] = shipped["Portico"]!["Compositions"]!["purchase"]!.DeepClone() },
            },
        }.ToJsonString();
    }

    /// <summary>The shipped purchase composition's <c>RecoverAfter</c>.</summary>
    public static TimeSpan ShippedRecoverAfter()
    {
        var shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "shipped-gateway.json")),
            documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        return TimeSpan.Parse(shipped["Portico"]!["Compositions"]!["purchase"]!["Durable"]!["RecoverAfter"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>An admin's client of Loyalty's HTTP endpoint.</summary>
    public HttpClient LoyaltyAdmin()
    {
        var client = new HttpClient { BaseAddress = Loyalty.HttpAddress };
        client.DefaultRequestHeaders.Authorization = new("Bearer", Tokens.CreateToken("admin-1", roles: ["admin"]));
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await OrderingProxy.DisposeAsync();
        await LoyaltyProxy.DisposeAsync();
        await Loyalty.DisposeAsync();
        await Ordering.DisposeAsync();
        await _catalog.DisposeAsync();
        await _identity.DisposeAsync();
        _store.Dispose();
        TestDatabases.Delete(LoyaltyDb);
        TestDatabases.Delete(OrderingDb);
        TestDatabases.Delete(_catalogDb);
    }
}

/// <summary>The system clock, <see cref="Ahead"/> in front: timers and timestamps are real, only "now" is shifted.</summary>
public sealed class ShiftedClock(TimeSpan ahead) : TimeProvider
{
    private long _aheadTicks = ahead.Ticks;

    public TimeSpan Ahead => TimeSpan.FromTicks(Interlocked.Read(ref _aheadTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _aheadTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Ahead;
}

/// <summary>
/// The gateway as Gateway.Host runs it (the same extension calls, the Loyalty contract registered), on a real Kestrel
/// port, reading its gateway file from a temporary content root, on the clock it is given.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _folder;
    private bool _disposed;

    private GatewayProcess(WebApplication app, string folder, ShiftedClock clock, Uri address)
    {
        _app = app;
        _folder = folder;
        Clock = clock;
        Address = address;
    }

    public ShiftedClock Clock { get; }

    public Uri Address { get; }

    public static async Task<GatewayProcess> StartAsync(string gatewayJson, ShiftedClock clock, IDictionary<string, string?> settings)
    {
        var folder = Directory.CreateTempSubdirectory("portico-purchase-gw-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "gateway.json"), gatewayJson);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Test" });
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.Logging.ClearProviders();
        }
        ListenOptions? http = null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => http = listen));
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.AddServiceDefaults();
        builder.AddJwtAuthentication();
        builder.AddPorticoGateway().AddGrpcContracts(Portico.Contracts.Loyalty.V1.LoyaltyReflection.Descriptor);

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
            throw;
        }
        return new GatewayProcess(app, folder, clock, new Uri($"http://127.0.0.1:{http!.IPEndPoint!.Port}/"));
    }

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

/// <summary>
/// The Loyalty service on real Kestrel with the two endpoints of its own configuration (HTTP/1.1 and h2c for gRPC)
/// moved to free loopback ports.
/// </summary>
public sealed class LoyaltyHost : WebApplicationFactory<LoyaltyService::Program>
{
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private ListenOptions? _http;
    private ListenOptions? _grpc;

    public LoyaltyHost(IReadOnlyDictionary<string, string?> settings)
    {
        _settings = settings;
        UseKestrel();
    }

    public Uri HttpAddress
    {
        get
        {
            StartServer();
            return new Uri($"http://127.0.0.1:{_http!.IPEndPoint!.Port}/");
        }
    }

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
        var all = new Dictionary<string, string?>(_settings)
        {
            ["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:0",
        };
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(all));
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.ConfigureLogging(logging => logging.ClearProviders());
        }
        // The service's own endpoint settings (names, protocols), read again so the test learns which port is which.
        builder.ConfigureServices(services => services.AddOptions<KestrelServerOptions>().Configure<IConfiguration>((kestrel, configuration) =>
            kestrel.Configure(configuration.GetSection("Kestrel"), reloadOnChange: false)
                .Endpoint("http", endpoint => _http = endpoint.ListenOptions)
                .Endpoint("grpc", endpoint => _grpc = endpoint.ListenOptions)));
    }
}

extern alias LoyaltyService;

using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portico.Contracts.Loyalty.V1;
using Portico.Tests.Common;
using LoyaltyClient = Portico.Contracts.Loyalty.V1.Loyalty.LoyaltyClient;

namespace Portico.Loyalty.Tests;

/// <summary>
/// The Loyalty service on real Kestrel, with the two endpoints of its own configuration (HTTP/1.1 and
/// HTTP/2-only h2c) moved to free loopback ports, against the SQLite file it is given. Tokens come from a
/// <see cref="TestTokenIssuer"/> whose key set a stand-in Identity serves.
/// </summary>
public sealed class LoyaltyApp : WebApplicationFactory<LoyaltyService::Program>
{
    private readonly string _jwksUrl;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly TimeProvider? _timeProvider;
    private ListenOptions? _http;
    private ListenOptions? _grpc;

    /// <param name="settings">Added to the test's own; by default the shared Garnet store as broker under a namespace of its own.</param>
    public LoyaltyApp(string databasePath, string jwksUrl, IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? timeProvider = null)
    {
        DatabasePath = databasePath;
        _jwksUrl = jwksUrl;
        _settings = settings ?? new Dictionary<string, string?>();
        _timeProvider = timeProvider;
        UseKestrel();
    }

    public string DatabasePath { get; }

    /// <summary>Loyalty's connection string; unset: the SQLite file at <see cref="DatabasePath"/>.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>The HTTP/1.1 endpoint (health, metrics); the server starts on first use.</summary>
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

    /// <summary>A channel over h2c to the gRPC endpoint.</summary>
    public GrpcChannel CreateChannel() => GrpcChannel.ForAddress(GrpcAddress);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:loyaltydb"] = ConnectionString ?? $"Data Source={DatabasePath}",
            ["Portico:Jwt:JwksUrl"] = _jwksUrl,
            ["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:0",
            // Loyalty consumes OrderCancelled, so it needs a broker: the test process's Garnet, a namespace per app.
            ["ConnectionStrings:store"] = SharedStore.ConnectionString,
            ["Messaging:Namespace"] = "loyalty-tests-" + Guid.NewGuid().ToString("N")[..12],
            ["Messaging:PollInterval"] = "00:00:00.05",
            ["Messaging:VisibilityTimeout"] = "00:00:03",
        };
        foreach (var (key, value) in _settings)
        {
            settings[key] = value;
        }
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(settings));
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.ConfigureLogging(logging => logging.ClearProviders());
        }
        if (_timeProvider is not null)
        {
            builder.ConfigureServices(services => services.AddSingleton(_timeProvider));
        }
        // The service's own endpoint settings (names, protocols), read again so the tests learn which port is which.
        builder.ConfigureServices(services => services.AddOptions<KestrelServerOptions>().Configure<IConfiguration>((kestrel, configuration) =>
            kestrel.Configure(configuration.GetSection("Kestrel"), reloadOnChange: false)
                .Endpoint("http", endpoint => _http = endpoint.ListenOptions)
                .Endpoint("grpc", endpoint => _grpc = endpoint.ListenOptions)));
    }
}

/// <summary>One embedded Garnet store for the whole test process, started when first needed (Loyalty needs a broker to start).</summary>
public static class SharedStore
{
    private static readonly Lazy<GarnetTestServer> Server = new(GarnetTestServer.Start);

    public static string ConnectionString => Server.Value.ConnectionString;
}

/// <summary>
/// One running Loyalty service with its own token issuer, on <see cref="DatabasePath"/> (kept: the caller owns
/// it) or, by default, on a fresh database deleted afterwards. xUnit gives one per test class.
/// </summary>
public class LoyaltyFixture : IAsyncLifetime
{
    private TestBackend? _identity;
    private ServiceTestDatabase? _database;

    /// <summary>The engine of the fresh database (unused when <see cref="DatabasePath"/> is set).</summary>
    public DatabaseEngine Engine { get; init; }

    /// <summary>A database file to use and keep; unset: a fresh one, deleted on dispose.</summary>
    public string? DatabasePath { get; init; }

    public TestTokenIssuer Tokens { get; init; } = new();

    /// <summary>Where Loyalty reads the key set; unset: a stand-in Identity serving <see cref="Tokens"/>' keys.</summary>
    public string? JwksUrl { get; init; }

    /// <summary>Settings added to Loyalty's.</summary>
    public IReadOnlyDictionary<string, string?>? Settings { get; init; }

    /// <summary>Loyalty's clock, when the test drives time.</summary>
    public TimeProvider? Time { get; init; }

    public LoyaltyApp App { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    public LoyaltyClient Client { get; private set; } = null!;

    /// <summary>Headers of a call made by a service (role <c>service</c>).</summary>
    public Metadata ServiceHeaders => Bearer(Tokens.CreateToken("ordering", roles: ["service"]));

    /// <summary>Headers of a call made by the user <paramref name="userId"/> (role <c>user</c>).</summary>
    public Metadata UserHeaders(string userId) => Bearer(Tokens.CreateToken(userId));

    public static Metadata Bearer(string token) => new() { { "Authorization", "Bearer " + token } };

    public async ValueTask InitializeAsync()
    {
        if (DatabasePath is null)
        {
            if (!ServiceTestDatabase.IsAvailable(Engine))
            {
                return; // PostgreSQL is not configured: nothing starts, and the tests skip (PostgresTestDatabase.Required).
            }
            _database = await ServiceTestDatabase.CreateAsync(Engine, "loyalty");
        }
        var jwks = JwksUrl;
        if (jwks is null)
        {
            _identity = await TestBackend.StartAsync("identity", app =>
                app.MapGet("/.well-known/jwks.json", () => Results.Text(Tokens.JwksJson, "application/json")));
            jwks = new Uri(_identity.Address, "/.well-known/jwks.json").ToString();
        }
        App = new LoyaltyApp(DatabasePath ?? _database!.SqlitePath ?? "", jwks, Settings, Time) { ConnectionString = _database?.ConnectionString };
        Channel = App.CreateChannel();
        Client = new LoyaltyClient(Channel);
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            Channel.Dispose();
            await App.DisposeAsync();
        }
        if (_identity is not null)
        {
            await _identity.DisposeAsync();
        }
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
        else
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    /// <summary>A user id no other test uses.</summary>
    public static string NewUserId() => "user-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>An order id no other test uses.</summary>
    public static string NewOrderId() => "order-" + Guid.NewGuid().ToString("N");

    public Task<AccrueReply> AccrueAsync(string userId, string orderId, long amount) =>
        Client.AccrueAsync(new AccrueRequest { UserId = userId, OrderId = orderId, Amount = amount }, ServiceHeaders,
            cancellationToken: TestContext.Current.CancellationToken).ResponseAsync;

    public async Task<long> BalanceAsync(string userId) =>
        (await Client.GetBalanceAsync(new GetBalanceRequest { UserId = userId }, ServiceHeaders,
            cancellationToken: TestContext.Current.CancellationToken)).Points;
}

/// <summary>A Loyalty service on a fresh PostgreSQL database.</summary>
public sealed class PostgresLoyaltyFixture : LoyaltyFixture
{
    public PostgresLoyaltyFixture() => Engine = DatabaseEngine.Postgres;
}

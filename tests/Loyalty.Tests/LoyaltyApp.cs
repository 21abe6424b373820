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
    private ListenOptions? _http;
    private ListenOptions? _grpc;

    public LoyaltyApp(string databasePath, string jwksUrl)
    {
        DatabasePath = databasePath;
        _jwksUrl = jwksUrl;
        UseKestrel();
    }

    public string DatabasePath { get; }

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
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:loyaltydb"] = $"Data Source={DatabasePath}",
            ["Portico:Jwt:JwksUrl"] = _jwksUrl,
            ["Kestrel:Endpoints:http:Url"] = "http://127.0.0.1:0",
            ["Kestrel:Endpoints:grpc:Url"] = "http://127.0.0.1:0",
        }));
        builder.ConfigureLogging(logging => logging.ClearProviders());
        // The service's own endpoint settings (names, protocols), read again so the tests learn which port is which.
        builder.ConfigureServices(services => services.AddOptions<KestrelServerOptions>().Configure<IConfiguration>((kestrel, configuration) =>
            kestrel.Configure(configuration.GetSection("Kestrel"), reloadOnChange: false)
                .Endpoint("http", endpoint => _http = endpoint.ListenOptions)
                .Endpoint("grpc", endpoint => _grpc = endpoint.ListenOptions)));
    }
}

/// <summary>
/// One running Loyalty service with its own token issuer, on <see cref="DatabasePath"/> (kept: the caller owns
/// it) or, by default, on a fresh database deleted afterwards. xUnit gives one per test class.
/// </summary>
public sealed class LoyaltyFixture : IAsyncLifetime
{
    private TestBackend _identity = null!;

    /// <summary>A database file to use and keep; unset: a fresh one, deleted on dispose.</summary>
    public string? DatabasePath { get; init; }

    public TestTokenIssuer Tokens { get; } = new();

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
        _identity = await TestBackend.StartAsync("identity", app =>
            app.MapGet("/.well-known/jwks.json", () => Results.Text(Tokens.JwksJson, "application/json")));
        App = new LoyaltyApp(DatabasePath ?? TestDatabases.NewPath("loyalty"), new Uri(_identity.Address, "/.well-known/jwks.json").ToString());
        Channel = App.CreateChannel();
        Client = new LoyaltyClient(Channel);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await App.DisposeAsync();
        await _identity.DisposeAsync();
        if (DatabasePath is null)
        {
            TestDatabases.Delete(App.DatabasePath);
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

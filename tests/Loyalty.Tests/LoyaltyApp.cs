extern alias LoyaltyService;

using Grpc.Core;
using Grpc.Net.Client;
using Portico.Contracts.Loyalty.V1;
using Portico.Tests.Common;
using LoyaltyClient = Portico.Contracts.Loyalty.V1.Loyalty.LoyaltyClient;

namespace Portico.Loyalty.Tests;

/// <summary>
/// The Loyalty service on real Kestrel (<see cref="HttpAndGrpcApp{TEntryPoint}"/>: its HTTP/1.1 and h2c endpoints on
/// free loopback ports) against the database it is given, trusting the key set at the URL it is given, with the
/// process's Garnet as broker under a namespace of its own unless the settings say otherwise.
/// </summary>
public sealed class LoyaltyApp : HttpAndGrpcApp<LoyaltyService::Program>
{
    /// <param name="settings">Added to the defaults above, and winning over them.</param>
    /// <param name="connectionString">Loyalty's connection string; null: the SQLite file at <paramref name="databasePath"/>.</param>
    public LoyaltyApp(string databasePath, string jwksUrl, IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? timeProvider = null, string? connectionString = null)
        : base(SettingsOf(connectionString ?? $"Data Source={databasePath}", jwksUrl, settings), timeProvider) =>
        DatabasePath = databasePath;

    public string DatabasePath { get; }

    /// <summary>A channel over h2c to the gRPC endpoint.</summary>
    public GrpcChannel CreateChannel() => GrpcChannel.ForAddress(GrpcAddress);

    private static Dictionary<string, string?> SettingsOf(string connectionString, string jwksUrl, IReadOnlyDictionary<string, string?>? extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:loyaltydb"] = connectionString,
            ["Portico:Jwt:JwksUrl"] = jwksUrl,
            // Loyalty consumes OrderCancelled, so it needs a broker: the test process's Garnet, a namespace per app.
            ["ConnectionStrings:store"] = SharedStore.ConnectionString,
            ["Messaging:Namespace"] = "loyalty-tests-" + Guid.NewGuid().ToString("N")[..12],
            ["Messaging:PollInterval"] = "00:00:00.05",
            ["Messaging:VisibilityTimeout"] = "00:00:03",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        return settings;
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
    private StandInIdentity? _identity;
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
            _identity = await StandInIdentity.StartAsync(Tokens);
            jwks = _identity.JwksUrl;
        }
        App = new LoyaltyApp(DatabasePath ?? _database!.SqlitePath ?? "", jwks, Settings, Time, _database?.ConnectionString);
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

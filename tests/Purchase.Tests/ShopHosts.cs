extern alias CatalogService;
extern alias LoyaltyService;
extern alias OrderingService;

using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Portico.Tests.Common;

namespace Portico.Purchase.Tests;

/// <summary>
/// The shop behind a real gateway, every part on its own Kestrel port: Catalog and Ordering as
/// <see cref="ShopServices{TCatalog, TOrdering}"/> runs them, Loyalty, all on SQLite files and one embedded Garnet store
/// (the gateway's saga log and the services' broker), and a <see cref="TcpProxy"/> between the gateway and each of
/// Ordering and Loyalty's gRPC endpoint, so a test can cut or stall exactly the gateway's calls. The gateway can be
/// killed and started again on the same store (<see cref="RestartGatewayAsync"/>).
/// </summary>
public sealed class Shop : IAsyncDisposable
{
    private readonly GarnetTestServer _store = GarnetTestServer.Start();
    private readonly string _catalogDb = TestDatabases.NewPath("catalog");
    private ShopServices<CatalogService::Program, OrderingService::Program> _services = null!;

    private Shop()
    {
    }

    public TestTokenIssuer Tokens => _services.Tokens;

    public string OrderingDb { get; } = TestDatabases.NewPath("ordering");

    public string LoyaltyDb { get; } = TestDatabases.NewPath("loyalty");

    public ServiceApp<OrderingService::Program> Ordering => _services.Ordering;

    public HttpAndGrpcApp<LoyaltyService::Program> Loyalty { get; private set; } = null!;

    /// <summary>Between the gateway and Ordering's HTTP endpoint.</summary>
    public TcpProxy OrderingProxy { get; private set; } = null!;

    /// <summary>Between the gateway and Loyalty's h2c (gRPC) endpoint.</summary>
    public TcpProxy LoyaltyProxy { get; private set; } = null!;

    /// <summary>The gateway now running; replaced by <see cref="RestartGatewayAsync"/>.</summary>
    public GatewayHost Gateway { get; private set; } = null!;

    /// <summary>The running gateway's clock.</summary>
    public ShiftedClock GatewayClock { get; private set; } = null!;

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
        _services = await ShopServices<CatalogService::Program, OrderingService::Program>.StartAsync(
            _store.ConnectionString, $"Data Source={_catalogDb}", $"Data Source={OrderingDb}");
        var loyalty = _services.LoyaltySettings();
        loyalty["ConnectionStrings:loyaltydb"] = $"Data Source={LoyaltyDb}";
        // Only the pass the test asks for, at the end; every placed order qualifies then.
        loyalty["Loyalty:Reconciler:Enabled"] = "false";
        loyalty["Loyalty:Reconciler:GracePeriod"] = "00:00:00";
        Loyalty = new HttpAndGrpcApp<LoyaltyService::Program>(loyalty);
        OrderingProxy = TcpProxy.Start(Ordering.Address.Port);
        LoyaltyProxy = TcpProxy.Start(Loyalty.GrpcAddress.Port);
        await StartGatewayAsync(TimeSpan.Zero);
    }

    /// <summary>
    /// Kills the running gateway as a crash would (requests in flight aborted, nothing flushed) and starts another on the
    /// same store with its clock <paramref name="clockAhead"/> of the real one, so the runs the dead one left are past
    /// their <c>RecoverAfter</c> for it at once, while the runs it starts itself are measured on its own clock.
    /// </summary>
    public async Task RestartGatewayAsync(TimeSpan clockAhead)
    {
        await Gateway.KillAsync();
        await StartGatewayAsync(clockAhead);
    }

    private async Task StartGatewayAsync(TimeSpan clockAhead)
    {
        GatewayStarts++;
        var clock = new ShiftedClock(clockAhead);
        Gateway = await GatewayHost.StartAsync(GatewayJson(), new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = _store.ConnectionString,
            ["Portico:Jwt:JwksUrl"] = _services.Identity.JwksUrl,
            ["Portico:ServiceIdentity:TokenUrl"] = _services.Identity.TokenUrl,
            ["Portico:ServiceIdentity:ClientSecret"] = StandInIdentity.ServiceSecret,
            ["Portico:SagaRecovery:Interval"] = "00:00:00.200",
        }, clock); // as the shipped host: no Loyalty contract compiled in, its descriptors come by server reflection
        GatewayClock = clock;
    }

    /// <summary>The shipped gateway file's purchase composition, its transcoding entries (Loyalty by reflection) and the two clusters it calls, those pointed at the proxies.</summary>
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
                ["Transcoding"] = shipped["Portico"]!["Transcoding"]!.DeepClone(),
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
        await _services.DisposeAsync();
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

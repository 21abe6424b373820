using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Portico.Tests.Common;

namespace Portico.Observability.Tests;

/// <summary>
/// The part of the shop that one order crosses, each piece its own process as built: Identity, Catalog, Ordering and
/// the gateway (Gateway.Host with its shipped gateway.json), on one embedded Garnet store that is also their broker.
/// Every process exports OTLP to the <see cref="OtlpReceiver"/> (batches every 100 ms) and writes ECS JSON lines (Portico's
/// categories at Debug, the frameworks' request lines at Information), with the gateway's access log on the console too.
/// Each process has answered once before a test runs, so a cold start on a loaded machine is not what a test times.
/// </summary>
public sealed class ShopProcesses : IAsyncLifetime
{
    /// <summary>The gateway's <c>client_credentials</c> secret (it calls Loyalty as a service; known to Identity).</summary>
    public static readonly string GatewaySecret = "gw-secret-" + Guid.NewGuid().ToString("N");

    /// <summary>A second service client, whose secret a test sends in a token request body.</summary>
    public const string ReporterClient = "reporter";

    public static readonly string ReporterSecret = "rp-secret-" + Guid.NewGuid().ToString("N");

    private readonly string _data = Directory.CreateTempSubdirectory("portico-obs-").FullName;
    private readonly List<ServiceProcess> _processes = [];
    private GarnetTestServer _store = null!;

    public OtlpReceiver Otlp { get; private set; } = null!;

    public ServiceProcess Identity { get; private set; } = null!;

    public ServiceProcess Catalog { get; private set; } = null!;

    public ServiceProcess Ordering { get; private set; } = null!;

    public ServiceProcess Gateway { get; private set; } = null!;

    public IReadOnlyList<ServiceProcess> Processes => _processes;

    public async ValueTask InitializeAsync()
    {
        var cancel = TestContext.Current.CancellationToken;
        _store = GarnetTestServer.Start();
        Otlp = await OtlpReceiver.StartAsync();

        Identity = await StartAsync("identity", "services/Identity", "Portico.Identity", new()
        {
            ["ConnectionStrings__identitydb"] = $"Data Source={Path.Combine(_data, "identity.db")}",
            ["Identity__KeyRing__Path"] = Path.Combine(_data, "identity-keys"),
            ["Identity__MailSink__Path"] = Path.Combine(_data, "identity-mail"),
            ["Identity__Clients__gateway__Secret"] = GatewaySecret,
            ["Identity__Clients__gateway__Resources__0"] = "urn:portico:loyalty",
            [$"Identity__Clients__{ReporterClient}__Secret"] = ReporterSecret,
            [$"Identity__Clients__{ReporterClient}__Resources__0"] = "urn:portico:ordering",
        }, cancel);
        Catalog = await StartAsync("catalog", "services/Catalog", "Portico.Catalog", new()
        {
            ["ConnectionStrings__catalogdb"] = $"Data Source={Path.Combine(_data, "catalog.db")}",
            ["services__identity__http__0"] = Identity.Address.ToString(),
        }, cancel);
        Ordering = await StartAsync("ordering", "services/Ordering", "Portico.Ordering", new()
        {
            ["ConnectionStrings__orderingdb"] = $"Data Source={Path.Combine(_data, "ordering.db")}",
            ["services__identity__http__0"] = Identity.Address.ToString(),
            ["services__catalog__http__0"] = Catalog.Address.ToString(),
            ["Messaging__Outbox__PollInterval"] = "00:00:00.05",
        }, cancel);
        // Two endpoints (HTTP/1.1 and h2c) from its own settings: ports chosen here, so the test knows which is which.
        var gatewayHttp = new Uri($"http://127.0.0.1:{Ports.GetFreeTcpPort()}/");
        var gatewayFile = ShippedGatewayFileWithPatientDefault();
        Gateway = await StartAsync("gateway", "src/Gateway.Host", "Portico.Gateway.Host", new()
        {
            ["Kestrel__Endpoints__http__Url"] = gatewayHttp.ToString().TrimEnd('/'),
            ["Kestrel__Endpoints__h2c__Url"] = $"http://127.0.0.1:{Ports.GetFreeTcpPort()}",
            ["Portico__ServiceIdentity__ClientSecret"] = GatewaySecret,
            ["Portico__ConfigFile"] = gatewayFile,
            ["services__identity__http__0"] = Identity.Address.ToString(),
            ["services__ordering__http__0"] = Ordering.Address.ToString(),
            ["services__catalog-a__http__0"] = Catalog.Address.ToString(),
            ["services__catalog-b__http__0"] = Catalog.Address.ToString(),
            // The access log is off on the gateway's console by default (it leaves over OTLP); on here, to be searched too.
            ["Logging__Console__LogLevel__Portico.AccessLog"] = "Information",
        }, cancel, gatewayHttp);
        foreach (var process in _processes)
        {
            using var warm = new HttpClient { BaseAddress = process.Address, Timeout = TimeSpan.FromMinutes(1) };
            using var answer = await warm.GetAsync("/health/live", cancel);
        }
        using (var gateway = GatewayClient())
        {
            // The gateway's first proxied call (Identity's key set, Catalog) warms its clients too.
            using var products = await gateway.GetAsync("/api/products", cancel);
        }
    }

    /// <summary>
    /// The shipped gateway.json, its routes and clusters as they are, with a one-minute attempt timeout in the
    /// <c>default</c> resilience policy instead of the built-in 10 s: on a loaded 2-core test machine Identity's password
    /// hashing alone can take longer, and what is under test here is the telemetry, not the timeout.
    /// </summary>
    private string ShippedGatewayFileWithPatientDefault()
    {
        var shipped = JsonNode.Parse(File.ReadAllText(Repo.PathOf("src/Gateway.Host/gateway.json")),
            documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        var portico = shipped["Portico"]!.AsObject();
        var resilience = (portico["Resilience"] ??= new JsonObject()).AsObject();
        var policies = (resilience["Policies"] ??= new JsonObject()).AsObject();
        var defaults = (policies["default"] ??= new JsonObject()).AsObject();
        defaults["AttemptTimeout"] = "00:01:00";
        var path = Path.Combine(_data, "gateway.json");
        File.WriteAllText(path, shipped.ToJsonString());
        return path;
    }

    private async Task<ServiceProcess> StartAsync(string name, string project, string assembly, Dictionary<string, string> environment, CancellationToken cancel, Uri? address = null)
    {
        environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        environment["ConnectionStrings__store"] = _store.ConnectionString;
        environment["OTEL_SERVICE_NAME"] = name;
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = Otlp.Endpoint.ToString();
        environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc";
        environment["OTEL_BSP_SCHEDULE_DELAY"] = "100";
        environment["OTEL_BLRP_SCHEDULE_DELAY"] = "100";
        environment["OTEL_METRIC_EXPORT_INTERVAL"] = "3600000";
        environment["Logging__Console__FormatterName"] = "ecs";
        // Portico's own categories at Debug, the frameworks' request lines (hosting, YARP, JWT bearer) at Information.
        environment["Logging__LogLevel__Default"] = "Information";
        environment["Logging__LogLevel__Portico"] = "Debug";
        environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Information";
        environment["Logging__LogLevel__Microsoft.EntityFrameworkCore"] = "Warning";
        environment["Logging__LogLevel__Yarp"] = "Information";
        var process = await ServiceProcess.StartAsync(name, project, assembly, environment, cancel, address);
        _processes.Add(process);
        return process;
    }

    public HttpClient GatewayClient() => new() { BaseAddress = Gateway.Address, Timeout = TimeSpan.FromMinutes(1) };

    /// <summary>Registers a user through the gateway and signs in with the password grant.</summary>
    public async Task<SignedIn> SignUpAsync(HttpClient gateway, string password, CancellationToken cancel)
    {
        var email = $"user-{Guid.NewGuid():N}@example.test";
        using var register = await gateway.PostAsJsonAsync("/api/auth/register", new { email, password, name = "Trace Tester" }, cancel);
        Assert.True(register.IsSuccessStatusCode, $"register: {(int)register.StatusCode} {await register.Content.ReadAsStringAsync(cancel)}");
        using var token = await gateway.PostAsJsonAsync("/api/auth/token", new { email, password }, cancel);
        Assert.True(token.IsSuccessStatusCode, $"token: {(int)token.StatusCode} {await token.Content.ReadAsStringAsync(cancel)}");
        using var body = JsonDocument.Parse(await token.Content.ReadAsStringAsync(cancel));
        return new SignedIn(email, body.RootElement.GetProperty("access_token").GetString()!, body.RootElement.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>The id of a product Catalog has in stock.</summary>
    public async Task<int> AnyProductAsync(HttpClient gateway, CancellationToken cancel)
    {
        using var products = JsonDocument.Parse(await gateway.GetStringAsync("/api/products", cancel));
        var items = products.RootElement.ValueKind == JsonValueKind.Array ? products.RootElement : products.RootElement.GetProperty("items");
        return items.EnumerateArray().First().GetProperty("id").GetInt32();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
        {
            await process.DisposeAsync();
        }
        if (Otlp is not null)
        {
            await Otlp.DisposeAsync();
        }
        _store?.Dispose();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
            // A process may hold a file a moment after it is killed; the temp folder is cleaned by the OS.
        }
    }
}

public sealed record SignedIn(string Email, string AccessToken, string RefreshToken);

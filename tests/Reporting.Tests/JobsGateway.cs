using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Portico.Reporting.Tests;

/// <summary>
/// The gateway as Gateway.Host runs it, with the shop's two report jobs, on a real Kestrel port, sharing the test
/// environment's store (job status and broker) and Identity stand-in. Leases and delays are short, on real time.
/// </summary>
public sealed class JobsGateway : IAsyncDisposable
{
    private const string GatewayJson = """
        {
          "ReverseProxy": { "Routes": {}, "Clusters": {} },
          "Portico": {
            "Jobs": {
              "purchases-report": {
                "Path": "/api/reports/purchases",
                "Queue": "jobs.purchases-report",
                "Parameters": { "from": { "Type": "Date" }, "to": { "Type": "Date", "NotBefore": "from" } }
              },
              "sales-report": {
                "Path": "/api/reports/sales",
                "Queue": "jobs.sales-report",
                "AuthorizationPolicy": "admin",
                "Parameters": {
                  "from": { "Type": "Date", "Required": true },
                  "to": { "Type": "Date", "Required": true, "NotBefore": "from" },
                  "groupBy": { "Type": "String", "Values": [ "day", "product" ], "Default": "day" }
                }
              }
            }
          }
        }
        """;

    private readonly WebApplication _app;
    private readonly string _folder;
    private readonly ReportingEnvironment _env;

    private JobsGateway(WebApplication app, string folder, ReportingEnvironment env, Uri address)
    {
        _app = app;
        _folder = folder;
        _env = env;
        Address = address;
    }

    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<JobsGateway> StartAsync(ReportingEnvironment env)
    {
        var folder = Directory.CreateTempSubdirectory("portico-jobs-gw-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "gateway.json"), GatewayJson);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Test" });
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.Logging.ClearProviders();
        }
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = env.Store.ConnectionString,
            ["Portico:Jwt:JwksUrl"] = env.JwksUrl.ToString(),
            ["Portico:Jobs:Queues:0"] = "jobs.purchases-report",
            ["Portico:Jobs:Queues:1"] = "jobs.sales-report",
            ["Portico:Jobs:Lease"] = "00:00:01.5",
            ["Portico:Jobs:RetryInitialDelay"] = "00:00:00.1",
            ["Portico:Jobs:RetryMaxDelay"] = "00:00:00.5",
            ["Portico:Jobs:SweepInterval"] = "00:00:00.1",
            ["Messaging:VisibilityTimeout"] = "00:00:01",
            ["Messaging:PollInterval"] = "00:00:00.05",
        });
        builder.AddServiceDefaults();
        builder.AddJwtAuthentication();
        builder.AddPorticoGateway().AddGrpcContracts();
        var app = builder.Build();
        app.UsePorticoGateway();
        app.MapDefaultEndpoints();
        app.MapPorticoGateway();
        await app.StartAsync();
        var address = new Uri(app.Urls.Single());
        return new JobsGateway(app, folder, env, address);
    }

    public HttpClient ClientFor(string user, params string[] roles)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _env.Tokens.CreateToken(user, roles.Length == 0 ? null : roles));
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A file watcher may still hold the folder for a moment.
        }
    }
}

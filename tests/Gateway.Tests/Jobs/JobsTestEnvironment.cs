using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Portico.Contracts.Events;
using Portico.Gateway.Jobs;
using Portico.Messaging;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Jobs;

/// <summary>
/// A gateway with jobs on (queue <c>jobs.test</c>, routes in its gateway file), the embedded store as job store and
/// broker, and a worker the test drives by hand: it receives each <see cref="JobRequested"/> on the in-queue and the
/// test answers on the out-queue with heartbeats and results of its choosing. The jobs clock is a
/// <see cref="FakeTimeProvider"/> (leases, backoff, sweeps); everything else runs on real time.
/// </summary>
public sealed class JobsTestEnvironment : IAsyncDisposable
{
    public const string Queue = "jobs.test";

    public const string GatewayJson = """
        {
          "ReverseProxy": { "Routes": {}, "Clusters": {} },
          "Portico": {
            "Jobs": {
              "mine": {
                "Path": "/api/test/mine",
                "Queue": "jobs.test",
                "MaxAttempts": 3,
                "Parameters": { "from": { "Type": "Date" }, "to": { "Type": "Date", "NotBefore": "from" } }
              },
              "shop": {
                "Path": "/api/test/shop",
                "Queue": "jobs.test",
                "AuthorizationPolicy": "admin",
                "Parameters": {
                  "from": { "Type": "Date", "Required": true },
                  "groupBy": { "Type": "String", "Values": [ "day", "product" ], "Default": "day" },
                  "top": { "Type": "Integer", "Min": 1, "Max": 100 }
                }
              }
            }
          }
        }
        """;

    private IHost _worker = null!;
    private TestBackend _identity = null!;

    public GarnetTestServer Store { get; private set; } = null!;

    public TestTokenIssuer Tokens { get; } = new();

    public Uri JwksUrl => new(_identity.Address, "/.well-known/jwks.json");

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));

    public WebApplication Gateway { get; private set; } = null!;

    /// <summary>Requests the worker received, in order.</summary>
    public Channel<JobRequested> Requests { get; } = Channel.CreateUnbounded<JobRequested>();

    public IMessageBus WorkerBus => _worker.Services.GetRequiredService<IMessageBus>();

    public JobsOptions Options => Gateway.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<JobsOptions>>().Value;

    public static async Task<JobsTestEnvironment> StartAsync()
    {
        var env = new JobsTestEnvironment { Store = GarnetTestServer.Start() };
        env._identity = await TestBackend.StartAsync("identity", app => app.MapGet("/.well-known/jwks.json", () => Results.Text(env.Tokens.JwksJson, "application/json")));
        env._worker = await StartWorkerAsync(env.Store.ConnectionString, env.Requests.Writer);
        env.Gateway = await StartGatewayAsync(env.Store.ConnectionString, new Uri(env._identity.Address, "/.well-known/jwks.json"), env.Clock, GatewayJson);
        return env;
    }

    /// <summary>A gateway host as Gateway.Host builds it, with the given jobs clock (none: the host's).</summary>
    public static async Task<WebApplication> StartGatewayAsync(string store, Uri jwks, TimeProvider? jobsClock, string gatewayJson, IDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        var folder = Directory.CreateTempSubdirectory("portico-jobs-").FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "gateway.json"), gatewayJson);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = folder, EnvironmentName = "Test" });
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.Logging.ClearProviders();
        }
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store,
            ["Portico:Jwt:JwksUrl"] = jwks.ToString(),
            ["Portico:Jobs:Queues:0"] = Queue,
            ["Portico:Jobs:Lease"] = "00:00:30",
            ["Portico:Jobs:RetryInitialDelay"] = "00:00:10",
            ["Portico:Jobs:RetryMaxDelay"] = "00:01:00",
            ["Portico:Jobs:SweepInterval"] = "00:00:01",
            ["Messaging:VisibilityTimeout"] = "00:00:03",
            ["Messaging:PollInterval"] = "00:00:00.05",
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        if (jobsClock is not null)
        {
            builder.Services.AddKeyedSingleton(JobsOptions.ClockKey, jobsClock);
        }
        configure?.Invoke(builder);
        builder.AddServiceDefaults();
        builder.AddJwtAuthentication();
        builder.AddPorticoGateway().AddGrpcContracts();
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
        var health = app.Services.GetRequiredService<HealthCheckService>();
        await JobsPoll.UntilAsync(async () => (await health.CheckHealthAsync()).Status == HealthStatus.Healthy, "the gateway to consume its out-queue");
        return app;
    }

    private static async Task<IHost> StartWorkerAsync(string store, ChannelWriter<JobRequested> requests)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store,
            ["Messaging:VisibilityTimeout"] = "00:00:03",
            ["Messaging:PollInterval"] = "00:00:00.05",
        });
        builder.Services.AddSingleton(requests);
        builder.AddPorticoMessaging()
            .AddMessage(JobsJsonContext.Default.JobHeartbeat)
            .AddMessage(JobsJsonContext.Default.JobCompleted)
            .AddCommandHandler<JobRequested, RecordingWorker>(JobsJsonContext.Default.JobRequested, JobsOptions.InQueue(Queue));
        var host = builder.Build();
        await host.StartAsync();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await JobsPoll.UntilAsync(async () => (await health.CheckHealthAsync()).Status == HealthStatus.Healthy, "the test worker to consume");
        return host;
    }

    public HttpClient ClientFor(string user, params string[] roles) => ClientFor(Gateway, user, roles);

    public HttpClient ClientFor(WebApplication gateway, string user, params string[] roles)
    {
        var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.Single()) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken(user, roles.Length == 0 ? null : roles));
        return client;
    }

    public HttpClient Anonymous() => new() { BaseAddress = new Uri(Gateway.Urls.Single()) };

    /// <summary>The next request the worker received (fails after the deadline).</summary>
    public async Task<JobRequested> NextRequestAsync(TimeSpan? timeout = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout ?? TimeSpan.FromSeconds(20));
        try
        {
            return await Requests.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail("The worker received no job request in time.");
            throw;
        }
    }

    public Task BeatAsync(JobRequested request, string worker = "worker-1") =>
        WorkerBus.SendAsync(request.ReplyTo, new JobHeartbeat(request.JobId, request.Attempt, worker, DateTimeOffset.UtcNow));

    public Task CompleteAsync(JobRequested request, object? result, string worker = "worker-1") =>
        WorkerBus.SendAsync(request.ReplyTo, new JobCompleted(request.JobId, request.Attempt, worker, true,
            JsonSerializer.SerializeToElement(result), null, false, DateTimeOffset.UtcNow));

    public Task FailAsync(JobRequested request, string error, bool retryable = true) =>
        WorkerBus.SendAsync(request.ReplyTo, new JobCompleted(request.JobId, request.Attempt, "worker-1", false, null, error, retryable, DateTimeOffset.UtcNow));

    public static async Task<JsonElement> StatusAsync(HttpClient client, string location)
    {
        var response = await client.GetAsync(location, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
    }

    /// <summary>Polls the job until <paramref name="condition"/> holds; returns its last status.</summary>
    public static async Task<JsonElement> WaitForAsync(HttpClient client, string location, Func<JsonElement, bool> condition, string what)
    {
        JsonElement status = default;
        await JobsPoll.UntilAsync(async () => condition(status = await StatusAsync(client, location)), what);
        return status;
    }

    /// <summary>Moves the jobs clock on; the sweeper's timer ticks (once, however far), and the sweep sees the new time.</summary>
    public void Advance(TimeSpan by) => Clock.Advance(by);

    public async ValueTask DisposeAsync()
    {
        await Gateway.StopAsync();
        await Gateway.DisposeAsync();
        await _worker.StopAsync();
        _worker.Dispose();
        await _identity.DisposeAsync();
        Store.Dispose();
    }

    private sealed class RecordingWorker(ChannelWriter<JobRequested> requests) : IMessageHandler<JobRequested>
    {
        public Task HandleAsync(JobRequested message, MessageContext context, CancellationToken cancellationToken) =>
            requests.WriteAsync(message, cancellationToken).AsTask();
    }
}

internal static class JobsPoll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = TimeProvider.System.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(20)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (!await condition())
        {
            Assert.True(TimeProvider.System.GetTimestamp() < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
    }
}

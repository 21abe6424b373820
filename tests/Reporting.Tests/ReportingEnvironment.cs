using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Portico.Contracts.Events;
using Portico.Messaging;
using Portico.Tests.Common;

namespace Portico.Reporting.Tests;

/// <summary>
/// What Reporting runs against in these tests: the embedded store (Garnet) as broker, a stand-in Identity serving the
/// key set of <see cref="Tokens"/>, and a publisher host that sends Ordering's events the way Ordering's relay does.
/// Reporting hosts are started on a database file of the environment's, so a second host can take over from a first.
/// </summary>
public sealed class ReportingEnvironment : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _apps = [];
    private TestBackend _identity = null!;
    private IHost _publisher = null!;

    public GarnetTestServer Store { get; private set; } = null!;

    public TestTokenIssuer Tokens { get; } = new();

    public string DatabasePath { get; } = TestDatabases.NewPath("reporting");

    public Uri JwksUrl => new(_identity.Address, "/.well-known/jwks.json");

    public IMessageBus Bus => _publisher.Services.GetRequiredService<IMessageBus>();

    public static async Task<ReportingEnvironment> StartAsync()
    {
        var environment = new ReportingEnvironment { Store = GarnetTestServer.Start() };
        environment._identity = await TestBackend.StartAsync("identity", app =>
            app.MapGet("/.well-known/jwks.json", () => Results.Text(environment.Tokens.JwksJson, "application/json")));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:store"] = environment.Store.ConnectionString });
        builder.AddPorticoMessaging()
            .AddMessage(EventsJsonContext.Default.OrderPlaced)
            .AddMessage(EventsJsonContext.Default.OrderCancelled);
        environment._publisher = builder.Build();
        await environment._publisher.StartAsync();
        return environment;
    }

    /// <summary>Starts Reporting (and waits until it consumes); <paramref name="configureServices"/> runs after its own registrations.</summary>
    public async Task<ReportingApp> StartReportingAsync(Action<IServiceCollection>? configureServices = null)
    {
        var app = new ReportingApp(new Dictionary<string, string?>
        {
            ["ConnectionStrings:reportingdb"] = $"Data Source={DatabasePath}",
            ["ConnectionStrings:store"] = Store.ConnectionString,
            ["Portico:Jwt:JwksUrl"] = JwksUrl.ToString(),
            ["Messaging:VisibilityTimeout"] = "00:00:01",
            ["Messaging:PollInterval"] = "00:00:00.05",
            ["Messaging:RetryInitialDelay"] = "00:00:00.05",
            ["Messaging:RetryMaxDelay"] = "00:00:00.2",
        }, configureServices);
        _apps.Add(app);
        using var client = app.CreateHttpClient();
        // Ready means its consumers run: an event published before its queue subscribed would be dropped.
        await Poll.UntilAsync(async () => (await client.GetAsync("/health/ready")).IsSuccessStatusCode, "Reporting to be ready");
        return app;
    }

    public HttpClient ClientFor(ReportingApp app, string user, params string[] roles)
    {
        var client = app.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken(user, roles.Length == 0 ? null : roles));
        return client;
    }

    public Task PlaceAsync(OrderPlaced order, Guid? messageId = null) =>
        Bus.PublishAsync(order, new MessageProperties { MessageId = messageId, CorrelationId = order.OrderId.ToString("D") });

    public Task CancelAsync(OrderCancelled cancelled, Guid? messageId = null) =>
        Bus.PublishAsync(cancelled, new MessageProperties { MessageId = messageId, CorrelationId = cancelled.OrderId.ToString("D") });

    public async ValueTask DisposeAsync()
    {
        foreach (var app in Enumerable.Reverse(_apps))
        {
            await app.DisposeAsync();
        }
        await _publisher.StopAsync();
        _publisher.Dispose();
        await _identity.DisposeAsync();
        Store.Dispose();
        TestDatabases.Delete(DatabasePath);
    }
}

/// <summary>Reporting on Kestrel, with test services added after its own (a report that blocks, say).</summary>
public sealed class ReportingApp(IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? configureServices)
    : ServiceApp<Program>(settings)
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        if (configureServices is not null)
        {
            builder.ConfigureTestServices(configureServices);
        }
    }
}

/// <summary>Waits for an effect by polling, with a deadline; never sleeps a fixed time for one.</summary>
public static class Poll
{
    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, timeout);

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

internal static class JsonResponses
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).Clone();
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portico.Tests.Common;

[assembly: AssemblyFixture(typeof(Portico.SystemTests.PorticoSystemFixture))]

namespace Portico.SystemTests;

/// <summary>
/// The real AppHost — every service, the gateway and the dashboard — started once for all system tests,
/// on free ports, with its data in a temporary folder.
/// </summary>
public sealed class PorticoSystemFixture : IAsyncLifetime
{
    // Generous: on a 2-core CI machine the other suites run beside this one, and Autocomplete's npm ci comes first.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(6);
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("portico-system-").FullName;
    private DistributedApplication? _app;
    private ResourceWatch? _watch;

    /// <summary>A client of the gateway's HTTP port; every request it sends is recorded (<see cref="Recorder"/>).</summary>
    public HttpClient Gateway { get; private set; } = null!;

    /// <summary>The requests sent through <see cref="Gateway"/> in this run, checked against the public OpenAPI document at the end.</summary>
    public RequestRecorder Recorder { get; } = new();

    /// <summary>The seeded administrator's password, set for this run.</summary>
    public string AdminPassword { get; } = $"Admin-{Guid.NewGuid():N}";

    /// <summary>The running application, for tests that stop and start its resources.</summary>
    public DistributedApplication App => _app!;

    /// <summary>The gateway's h2c (HTTP/2 without TLS) address, for gRPC clients.</summary>
    public Uri GatewayH2c { get; } = new($"http://127.0.0.1:{Ports.GetFreeTcpPort()}");

    /// <summary>Registers a user through the gateway and returns an access token.</summary>
    public async Task<string> SignUpAsync(CancellationToken cancellationToken)
    {
        var email = $"user-{Guid.NewGuid():N}@example.test";
        const string password = "correct horse battery staple";
        using var register = await Gateway.PostAsJsonAsync("/api/auth/register", new { email, password, name = "Test User" }, cancellationToken);
        register.EnsureSuccessStatusCode();
        return await TokenAsync(email, password, cancellationToken);
    }

    /// <summary>Signs in as the seeded administrator and returns an access token.</summary>
    public Task<string> AdminTokenAsync(CancellationToken cancellationToken) => TokenAsync("admin@portico.local", AdminPassword, cancellationToken);

    private async Task<string> TokenAsync(string email, string password, CancellationToken cancellationToken)
    {
        using var token = await Gateway.PostAsJsonAsync("/api/auth/token", new { email, password }, cancellationToken);
        token.EnsureSuccessStatusCode();
        using var body = System.Text.Json.JsonDocument.Parse(await token.Content.ReadAsStringAsync(cancellationToken));
        return body.RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>
    /// <c>POST /api/purchases</c> as the API tells clients to: while the answer is that the purchase is pending (503, 504)
    /// or in progress (409), ask again with the same key, for at most 2 min. Returns the final status and body.
    /// </summary>
    public async Task<(HttpStatusCode Status, string Body)> PurchaseAsync(string token, object body, CancellationToken cancellationToken)
    {
        var key = Guid.NewGuid().ToString();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            using var purchase = new HttpRequestMessage(HttpMethod.Post, "/api/purchases") { Content = JsonContent.Create(body) };
            purchase.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            purchase.Headers.Add("Idempotency-Key", key);
            using var answer = await Gateway.SendAsync(purchase, cancellationToken);
            var text = await answer.Content.ReadAsStringAsync(cancellationToken);
            // Pending and in-progress answers say when to ask again (Retry-After); a final 409 (a cancelled order) does not.
            if (answer.StatusCode is not (HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.Conflict)
                || answer.Headers.RetryAfter is null || DateTime.UtcNow > deadline)
            {
                return (answer.StatusCode, text);
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    public async ValueTask InitializeAsync()
    {
        using var cts = new CancellationTokenSource(StartTimeout);
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            $"Portico:GatewayPort={Ports.GetFreeTcpPort()}",
            $"Portico:GatewayH2cPort={GatewayH2c.Port}",
            $"Portico:StorePort={Ports.GetFreeTcpPort()}",
            $"Portico:DataDirectory={_dataDirectory}",
            $"Portico:AdminPassword={AdminPassword}",
        ], cts.Token);
        appHost.Services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning));
        // The testing builder runs no dashboard yet points every process's OTLP exporter at it. With nothing there the
        // exporters retry (Aspire sets OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY=in_memory) and hold a process's shutdown past
        // the orchestrator's stop timeout (seen: catalog-b "timed out waiting for process to stop", its exporter threads
        // asleep between retries). No dashboard, no export.
        foreach (var resource in appHost.Resources.OfType<IResourceWithEnvironment>())
        {
            resource.Annotations.Add(new EnvironmentCallbackAnnotation((Dictionary<string, object> environment) => environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT")));
        }

        _app = await appHost.BuildAsync(cts.Token);
        _watch = new ResourceWatch(_app);
        try
        {
            await _app.StartAsync(cts.Token);
            await _app.ResourceNotifications.WaitForResourceHealthyAsync("gateway", cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"The AppHost's gateway was not healthy within {StartTimeout}. Resources:\n{_watch.Describe()}");
        }
        Gateway = new HttpClient(Recorder, disposeHandler: false) { BaseAddress = _app.GetEndpoint("gateway", "http") };
    }

    /// <summary>Every resource's state and the last log lines of those not healthy, for a test's failure message.</summary>
    public string DescribeResources() => _watch?.Describe() ?? "(not started)";

    public async ValueTask DisposeAsync()
    {
        Gateway?.Dispose();
        Recorder.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        if (_watch is not null)
        {
            await _watch.DisposeAsync();
        }
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // SQLite may still hold the file for a moment after the services exit.
        }
    }
}

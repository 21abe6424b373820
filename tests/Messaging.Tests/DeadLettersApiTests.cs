using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Portico.Tests.Common;

namespace Portico.Messaging.Tests;

/// <summary>The dead-letter endpoints on real Kestrel, over the embedded store.</summary>
public sealed class DeadLettersApiTests : IAsyncLifetime
{
    private readonly GarnetTestServer _store = GarnetTestServer.Start();
    private readonly Probe _probe = new();
    private readonly string _queue = $"test-{Guid.NewGuid():N}"[..17];
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = _store.ConnectionString,
            ["Messaging:Queue"] = _queue,
            ["Messaging:MaxAttempts"] = "1",
            ["Messaging:PollInterval"] = "00:00:00.05",
        });
        builder.Services.AddSingleton(_probe);
        // The handler's database is not touched by the modes these tests use.
        builder.Services.AddDbContext<TestDb>(o => o.UseSqlite("Data Source=:memory:"));
        builder.AddPorticoMessaging().AddEventHandler<Ping, PingHandler>(TestJsonContext.Default.Ping);
        _app = builder.Build();
        _app.MapDeadLetters();
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _client = new HttpClient { BaseAddress = new Uri(address) };
    }

    [Fact]
    public async Task DeadLetters_AreListedWithTheirError_AndReplayedOnRequest()
    {
        var ct = TestContext.Current.CancellationToken;
        var health = _app.Services.GetRequiredService<HealthCheckService>();
        await Eventually.TrueAsync(async () => (await health.CheckHealthAsync(ct)).Status == HealthStatus.Healthy, "the queue to be consumed");
        await _app.Services.GetRequiredService<IMessageBus>().PublishAsync(new Ping(4, Ping.FailsUntilFixed), cancellationToken: ct);

        JsonElement letters = default;
        await Eventually.TrueAsync(async () => (letters = await _client.GetFromJsonAsync<JsonElement>($"/admin/messaging/dead-letters/{_queue}", ct)).GetArrayLength() == 1, "the dead letter to be listed");
        var letter = letters[0];
        Assert.Equal(Ping.MessageType, letter.GetProperty("messageType").GetString());
        Assert.Equal(1, letter.GetProperty("attempts").GetInt32());
        Assert.Contains("fails until it is fixed", letter.GetProperty("error").GetString(), StringComparison.Ordinal);

        _probe.Fix(4);
        using var replay = await _client.PostAsync($"/admin/messaging/dead-letters/{_queue}/replay", null, ct);

        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(1, (await replay.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("replayed").GetInt32());
        await Eventually.TrueAsync(() => _probe.CompletedOf(4) == 1, "the replayed message to be handled");
    }

    [Theory]
    [InlineData("/admin/messaging/dead-letters/has%20space", "queue")]
    [InlineData("/admin/messaging/dead-letters/orders?count=0", "count")]
    [InlineData("/admin/messaging/dead-letters/orders?count=1001", "count")]
    public async Task BadInput_Is400NamingTheField(string path, string field)
    {
        using var response = await _client.GetAsync(path, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _store.Dispose();
    }
}

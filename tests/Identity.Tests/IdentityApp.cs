using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Portico.Identity.Tests;

/// <summary>
/// The Identity service on a real Kestrel port (127.0.0.1:0), against the SQLite file it is given, with
/// optional extra settings, a test clock in place of <see cref="TimeProvider.System"/>, and an environment
/// (Development unless told). Its logs are collected, not printed.
/// </summary>
public sealed class IdentityApp : WebApplicationFactory<Program>
{
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly TimeProvider? _timeProvider;
    private readonly string _environment;

    public IdentityApp(
        string databasePath,
        IReadOnlyDictionary<string, string?>? settings = null,
        TimeProvider? timeProvider = null,
        string environment = "Development")
    {
        DatabasePath = databasePath;
        _settings = settings ?? new Dictionary<string, string?>();
        _timeProvider = timeProvider;
        _environment = environment;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    public string DatabasePath { get; }

    /// <summary>Base address of the running server, e.g. <c>http://127.0.0.1:41234/</c>; the server starts on first use.</summary>
    public Uri Address
    {
        get
        {
            StartServer();
            var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new Uri(address.EndsWith('/') ? address : address + "/");
        }
    }

    /// <summary>Everything the service logged.</summary>
    public FakeLogCollector Logs => Services.GetFakeLogCollector();

    /// <summary>A plain client over TCP to the Kestrel port.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = Address };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(_environment);
        builder.ConfigureAppConfiguration((_, config) =>
        {
            var settings = new Dictionary<string, string?>(_settings)
            {
                ["ConnectionStrings:identitydb"] = $"Data Source={DatabasePath}",
            };
            config.AddInMemoryCollection(settings);
        });
        builder.ConfigureLogging(logging =>
        {
            logging.ClearProviders();
            logging.AddFakeLogging();
        });
        if (_timeProvider is not null)
        {
            builder.ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton(_timeProvider)));
        }
    }

    /// <summary>A fresh path in the temp folder; nothing is created until a server starts.</summary>
    public static string NewDatabasePath() => Path.Combine(Path.GetTempPath(), $"portico-identity-{Guid.NewGuid():N}.db");

    /// <summary>A test clock that starts at the real current time, so tokens it stamps look current.</summary>
    public static FakeTimeProvider NewClock() => new(DateTimeOffset.UtcNow);

    /// <summary>Deletes a database file and its journal files, closing pooled connections first.</summary>
    public static void DeleteDatabase(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-journal", path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
    }
}

/// <summary>
/// One running Identity service per test class with its own temp database, on the system clock, configured
/// with <paramref name="settings"/>; the database goes with it.
/// </summary>
public abstract class IdentityHostFixture(IReadOnlyDictionary<string, string?> settings) : IAsyncLifetime
{
    public IdentityApp App { get; } = new(IdentityApp.NewDatabasePath(), settings);

    public HttpClient Client { get; private set; } = null!;

    public ValueTask InitializeAsync()
    {
        Client = App.CreateHttpClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
        IdentityApp.DeleteDatabase(App.DatabasePath);
    }
}

/// <summary>The Identity service the account and token tests share, with a known admin password.</summary>
public sealed class IdentityFixture() : IdentityHostFixture(new Dictionary<string, string?>
{
    ["Identity:Admin:Password"] = AdminPassword,
})
{
    public const string AdminPassword = "fixture-admin-Pa55phrase";
}

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

namespace Portico.Tests.Common;

/// <summary>
/// A service under test on a real Kestrel port (127.0.0.1:0) with the settings it is given, a test clock in place
/// of <see cref="TimeProvider.System"/> when given one, and an environment (Development unless told). Its logs are
/// dropped unless <c>PORTICO_TEST_LOGS</c> is set.
/// </summary>
public class ServiceApp<TEntryPoint> : WebApplicationFactory<TEntryPoint> where TEntryPoint : class
{
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly TimeProvider? _timeProvider;
    private readonly string _environment;

    public ServiceApp(IReadOnlyDictionary<string, string?> settings, TimeProvider? timeProvider = null, string environment = "Development")
    {
        _settings = settings;
        _timeProvider = timeProvider;
        _environment = environment;
        UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
    }

    /// <summary>Base address of the running server, e.g. <c>http://127.0.0.1:41234/</c>; the server starts on first use.</summary>
    public Uri Address
    {
        get
        {
            Start();
            var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            return new Uri(address.EndsWith('/') ? address : address + "/");
        }
    }

    /// <summary>
    /// Starts the server (tests that expect start-up to fail call this rather than <c>StartServer</c>).
    /// WebApplicationFactory races an application whose start fails against that application's own disposal, and now
    /// and then reports an ObjectDisposedException instead of the start-up failure. The failure itself is
    /// deterministic, so starting again surfaces it (a start that succeeds is never repeated).
    /// </summary>
    public void Start()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                StartServer();
                return;
            }
            catch (ObjectDisposedException) when (attempt < 5)
            {
                // Lost the race: start again.
            }
        }
    }

    /// <summary>A plain client over TCP to the Kestrel port.</summary>
    public HttpClient CreateHttpClient() => new() { BaseAddress = Address };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(_environment);
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(_settings));
        if (Environment.GetEnvironmentVariable("PORTICO_TEST_LOGS") is null)
        {
            builder.ConfigureLogging(logging => logging.ClearProviders());
        }
        if (_timeProvider is not null)
        {
            builder.ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton(_timeProvider)));
        }
    }
}

/// <summary>SQLite files for services under test: a fresh path per test, deleted with its journal files afterwards.</summary>
public static class TestDatabases
{
    /// <summary>A fresh path in the temp folder; nothing is created until a server starts.</summary>
    public static string NewPath(string service) => Path.Combine(Path.GetTempPath(), $"portico-{service}-{Guid.NewGuid():N}.db");

    /// <summary>Deletes a database file and its journal files, closing pooled connections first.</summary>
    public static void Delete(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-journal", path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
    }
}

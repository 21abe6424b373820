using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Identity.Accounts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>
/// The Identity service on a real Kestrel port (127.0.0.1:0), against the SQLite file it is given (or the database
/// <paramref name="connectionString"/> names, with its key ring and mail beside <paramref name="databasePath"/>), with
/// optional extra settings, a test clock in place of <see cref="TimeProvider.System"/>, and an environment
/// (Development unless told). Its logs are collected, not printed.
/// </summary>
public sealed class IdentityApp(
    string databasePath,
    IReadOnlyDictionary<string, string?>? settings = null,
    TimeProvider? timeProvider = null,
    string environment = "Development",
    string? connectionString = null)
    : ServiceApp<Program>(WithDatabase(databasePath, connectionString, settings), timeProvider, environment)
{
    /// <summary>The SQLite file; on PostgreSQL no file, only where the key ring and the mail sink go (beside it).</summary>
    public string DatabasePath { get; } = databasePath;

    /// <summary>What the service printed to its console (the Development admin password), in place of the real console.</summary>
    public StringWriter ConsoleOutput { get; } = new();

    /// <summary>Everything the service logged.</summary>
    public FakeLogCollector Logs => Services.GetFakeLogCollector();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureLogging(logging => logging.AddFakeLogging());
        builder.ConfigureTestServices(services => services.Replace(ServiceDescriptor.Singleton(new AdminPasswordConsole(ConsoleOutput))));
    }

    /// <summary>A test clock that starts at the real current time, so tokens it stamps look current.</summary>
    public static FakeTimeProvider NewClock() => new(DateTimeOffset.UtcNow);

    /// <summary>The Data Protection key ring of a test database: a directory beside it.</summary>
    public static string KeyRingPath(string databasePath) => databasePath + ".keys";

    /// <summary>
    /// The messages in this service's development mail sink whose subject contains <paramref name="subject"/>, once
    /// there are <paramref name="count"/> of them (waiting ten seconds at most, for mail sent in the background).
    /// </summary>
    public async Task<List<string>> ReadMailAsync(string subject, int count = 1)
    {
        var directory = MailPath(DatabasePath);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var messages = new List<string>();
            if (Directory.Exists(directory))
            {
                foreach (var file in Directory.GetFiles(directory, "*.txt").Order(StringComparer.Ordinal))
                {
                    var text = await File.ReadAllTextAsync(file);
                    if (SubjectOf(text).Contains(subject, StringComparison.Ordinal))
                    {
                        messages.Add(text);
                    }
                }
            }
            if (messages.Count >= count || DateTime.UtcNow >= deadline)
            {
                return messages;
            }
            await Task.Delay(20);
        }
    }

    /// <summary>Confirms <paramref name="email"/> with the token of its verification mail, as its owner would.</summary>
    public async Task VerifyEmailAsync(HttpClient client, string email)
    {
        var mail = Assert.Single(await ReadMailAsync("Confirm your Portico email address"), m => m.Contains($"To: {email}\n", StringComparison.Ordinal));
        var token = System.Text.RegularExpressions.Regex.Match(mail, "\"token\": \"([A-Za-z0-9_-]+)\"").Groups[1].Value;
        using var response = await client.PostJsonAsync("api/auth/verify-email", new Dictionary<string, string> { ["token"] = token });
        Assert.Equal(System.Net.HttpStatusCode.NoContent, response.StatusCode);
    }

    private static string SubjectOf(string message) =>
        message.Split('\n').FirstOrDefault(l => l.StartsWith("Subject: ", StringComparison.Ordinal)) ?? "";

    /// <summary>The development mail sink of a test database: a directory beside it.</summary>
    public static string MailPath(string databasePath) => databasePath + ".mail";

    /// <summary>Deletes a test database, its journal files, its key ring and its mail.</summary>
    public static void DeleteFiles(string databasePath)
    {
        TestDatabases.Delete(databasePath);
        foreach (var directory in new[] { KeyRingPath(databasePath), MailPath(databasePath) })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private static Dictionary<string, string?> WithDatabase(string databasePath, string? connectionString, IReadOnlyDictionary<string, string?>? settings)
    {
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["ConnectionStrings:identitydb"] = connectionString ?? $"Data Source={databasePath}",
        };
        all.TryAdd("Identity:KeyRing:Path", KeyRingPath(databasePath));
        all.TryAdd("Identity:MailSink:Path", MailPath(databasePath));
        return all;
    }
}

/// <summary>
/// An Identity test database on <see cref="Engine"/> and the files Identity keeps beside it (key ring, development
/// mail), all removed on disposal. Creating one on PostgreSQL skips the test where no server is configured.
/// </summary>
public sealed class IdentityTestDatabase : IAsyncDisposable
{
    private readonly ServiceTestDatabase _database;

    private IdentityTestDatabase(ServiceTestDatabase database, string path)
    {
        _database = database;
        Path = path;
    }

    public DatabaseEngine Engine => _database.Engine;

    public string ConnectionString => _database.ConnectionString;

    /// <summary>What <see cref="IdentityApp.DatabasePath"/> is for the services on this database.</summary>
    public string Path { get; }

    public static async Task<IdentityTestDatabase> CreateAsync(DatabaseEngine engine)
    {
        var database = await ServiceTestDatabase.CreateAsync(engine, "identity");
        return new IdentityTestDatabase(database, database.SqlitePath ?? TestDatabases.NewPath("identity"));
    }

    /// <summary>A new (not yet started) Identity service on this database; several may share it, one after the other or at once.</summary>
    public IdentityApp NewApp(IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? timeProvider = null, string environment = "Development") =>
        new(Path, settings, timeProvider, environment, _database.ConnectionString);

    public async ValueTask DisposeAsync()
    {
        await _database.DisposeAsync();
        IdentityApp.DeleteFiles(Path);
    }
}

/// <summary>
/// One running Identity service with its own temp database on <paramref name="engine"/>, configured with
/// <paramref name="settings"/>, on <paramref name="clock"/> (the system clock when null); the database goes with it. A
/// fixture shared by a test class, or the base of a test class that needs a service of its own. Where PostgreSQL is
/// not configured it starts nothing, and <see cref="App"/> and <see cref="Client"/> skip the test that uses them (a
/// skip thrown while a class fixture starts would be reported as a failure).
/// </summary>
public abstract class IdentityHostFixture(
    IReadOnlyDictionary<string, string?> settings, TimeProvider? clock = null, DatabaseEngine engine = DatabaseEngine.Sqlite) : IAsyncLifetime
{
    private IdentityTestDatabase? _database;
    private IdentityApp? _app;
    private HttpClient? _client;

    public DatabaseEngine Engine => engine;

    public IdentityApp App => _app ?? throw NotStarted();

    public HttpClient Client => _client ?? throw NotStarted();

    public async ValueTask InitializeAsync()
    {
        if (!ServiceTestDatabase.IsAvailable(engine))
        {
            return;
        }
        _database = await IdentityTestDatabase.CreateAsync(engine);
        _app = _database.NewApp(settings, clock);
        _client = _app.CreateHttpClient();
    }

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    private InvalidOperationException NotStarted()
    {
        ServiceTestDatabase.SkipUnlessAvailable(engine);
        return new InvalidOperationException("The Identity fixture has not been initialised.");
    }
}

/// <summary>The Identity service the account and token tests share, with a known admin password.</summary>
public class IdentityFixture : IdentityHostFixture
{
    public const string AdminPassword = "fixture-admin-Pa55phrase";

    public IdentityFixture() : this(DatabaseEngine.Sqlite)
    {
    }

    protected IdentityFixture(DatabaseEngine engine)
        : base(new Dictionary<string, string?> { ["Identity:Admin:Password"] = AdminPassword }, engine: engine)
    {
    }
}

/// <summary>The same on a PostgreSQL database.</summary>
public sealed class PostgresIdentityFixture() : IdentityFixture(DatabaseEngine.Postgres);

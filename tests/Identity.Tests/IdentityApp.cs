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
/// The Identity service on a real Kestrel port (127.0.0.1:0), against the SQLite file it is given, with
/// optional extra settings, a test clock in place of <see cref="TimeProvider.System"/>, and an environment
/// (Development unless told). Its logs are collected, not printed.
/// </summary>
public sealed class IdentityApp(
    string databasePath,
    IReadOnlyDictionary<string, string?>? settings = null,
    TimeProvider? timeProvider = null,
    string environment = "Development")
    : ServiceApp<Program>(WithDatabase(databasePath, settings), timeProvider, environment)
{
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

    private static Dictionary<string, string?> WithDatabase(string databasePath, IReadOnlyDictionary<string, string?>? settings)
    {
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["ConnectionStrings:identitydb"] = $"Data Source={databasePath}",
        };
        all.TryAdd("Identity:KeyRing:Path", KeyRingPath(databasePath));
        all.TryAdd("Identity:MailSink:Path", MailPath(databasePath));
        return all;
    }
}

/// <summary>
/// One running Identity service with its own temp database, configured with <paramref name="settings"/>, on
/// <paramref name="clock"/> (the system clock when null); the database goes with it. A fixture shared by a test
/// class, or the base of a test class that needs a service of its own.
/// </summary>
public abstract class IdentityHostFixture(IReadOnlyDictionary<string, string?> settings, TimeProvider? clock = null) : IAsyncLifetime
{
    public IdentityApp App { get; } = new(TestDatabases.NewPath("identity"), settings, clock);

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
        IdentityApp.DeleteFiles(App.DatabasePath);
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

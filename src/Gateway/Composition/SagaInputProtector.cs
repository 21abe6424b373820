using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Store;

namespace Portico.Gateway.Composition;

/// <summary>
/// Encrypts the request a durable run captures — the caller's bearer token, which recovery needs to call a service
/// as the user, the body, headers and claims — while it sits in the saga log (until the run settles). ASP.NET Core
/// Data Protection with a purpose of its own, and a key ring of its own kept in the same Redis-protocol store as the
/// saga log (<c>portico:saga-keys</c>): every instance that can take a run over can read its request, with no shared
/// volume, and keys live at least as long as the runs they protect (keys 90 days, runs their retention). The ring is
/// not the application's (which stays as the host configures it): it is built here, under a fixed application name,
/// so instances with different content roots share it.
/// </summary>
/// <remarks>
/// The keys are stored as Data Protection writes them, unencrypted unless a key-encryption key is configured; what
/// this protects against is the run's hash being read — a dump of saga keys, a support look with HGETALL, a log of
/// the store's traffic — not someone holding the whole store.
/// </remarks>
internal sealed class SagaInputProtector : IDisposable
{
    public const string Purpose = "Portico.Gateway.Composition.SagaLog.Input.v1";
    public const string KeyRingKey = "portico:saga-keys";
    private const string ApplicationName = "Portico.Gateway.Sagas";

    private readonly ServiceProvider _services;
    private readonly IDataProtector _protector;

    public SagaInputProtector(GatewayStore store, ILoggerFactory loggerFactory)
    {
        var services = new ServiceCollection();
        services.AddSingleton(loggerFactory);
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddDataProtection()
            .SetApplicationName(ApplicationName)
            .PersistKeysToStackExchangeRedis(() => store.Database, KeyRingKey);
        _services = services.BuildServiceProvider();
        _protector = _services.GetRequiredService<IDataProtectionProvider>().CreateProtector(Purpose);
    }

    public byte[] Protect(byte[] plain) => _protector.Protect(plain);

    /// <exception cref="System.Security.Cryptography.CryptographicException">The payload was not made by this ring (or was altered).</exception>
    public byte[] Unprotect(byte[] protectedData) => _protector.Unprotect(protectedData);

    public void Dispose() => _services.Dispose();
}

using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Infrastructure;

namespace Portico.Identity.Keys;

/// <summary>
/// Keeps the ES256 key ring in the database, so restarts and sibling instances share it, with each private key
/// encrypted by ASP.NET Core Data Protection, and rotates it: <see cref="SigningKeyOptions.PublishAhead"/> before the
/// active key reaches <see cref="SigningKeyOptions.Lifetime"/> the next key is created and published, and it takes
/// over signing when that time is up, so that validators already hold it when its first token arrives. The old key
/// stays published for one access-token lifetime plus the clock skew, until every token it signed has expired; then
/// it is deleted. A snapshot is cached and read again at least every <see cref="ReloadInterval"/>, so keys made by
/// another instance appear here too.
/// </summary>
internal sealed partial class SigningKeyStore(
    IServiceScopeFactory scopeFactory,
    IDataProtectionProvider dataProtection,
    TimeProvider timeProvider,
    IOptions<IdentityServiceOptions> options,
    ILogger<SigningKeyStore> logger) : IDisposable
{
    public const string Algorithm = SecurityAlgorithms.EcdsaSha256;

    /// <summary>The PostgreSQL advisory lock key held while keys are loaded and rotated ("pidkeys" as ASCII).</summary>
    private const long RotationLockKey = 0x7069646B657973;

    public static readonly TimeSpan ReloadInterval = TimeSpan.FromMinutes(1);

    private readonly IDataProtector _protector = dataProtection.CreateProtector("Portico.Identity.SigningKeys.v1");
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private SigningKeySet? _current;

    /// <summary>The current key ring, rotated first if the active key has reached its lifetime.</summary>
    public async ValueTask<SigningKeySet> GetKeySetAsync(CancellationToken cancellationToken = default)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && timeProvider.GetUtcNow() < current.ValidUntil)
        {
            return current;
        }

        await _reloadGate.WaitAsync(cancellationToken);
        try
        {
            var now = timeProvider.GetUtcNow();
            current = _current;
            if (current is not null && now < current.ValidUntil)
            {
                return current;
            }
            var reloaded = await LoadAsync(now, current, cancellationToken);
            Volatile.Write(ref _current, reloaded);
            return reloaded;
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    public void Dispose() => _reloadGate.Dispose();

    private async Task<SigningKeySet> LoadAsync(DateTimeOffset now, SigningKeySet? previous, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var lifetime = settings.SigningKeys.Lifetime;
        var publishAhead = settings.SigningKeys.PublishAhead;
        var retention = settings.AccessTokenLifetime + settings.ClockSkew;

        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();

        // One transaction (BEGIN IMMEDIATE on SQLite; on PostgreSQL, whose transactions do not exclude each other,
        // with a transaction-scoped advisory lock): instances sharing a database see each other's rotation instead of
        // each creating a key.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (!db.Database.IsSqlite())
        {
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({RotationLockKey})", cancellationToken);
        }
        var keys = await db.SigningKeys.ToListAsync(cancellationToken);

        // The newest key whose time has come signs; older unretired keys stop signing when it started.
        var active = keys.Where(k => k.RetiredAt is null && k.NotBefore <= now).MaxBy(k => k.NotBefore);
        ECDsa? activePrivateKey = null;
        if (active is not null && !TryUnprotect(active, out activePrivateKey))
        {
            // The key ring that encrypted it is gone: the key can still verify (its public half is stored) but not
            // sign. A fresh key signs at once; validators fetch it on its unknown kid.
            Log.SigningKeyUnreadable(logger, active.Id);
            active.RetiredAt = now;
            active = null;
        }
        if (active is null)
        {
            (active, activePrivateKey) = CreateKey(now, notBefore: now);
            db.SigningKeys.Add(active);
            keys.Add(active);
            Log.SigningKeyCreated(logger, active.Id, active.NotBefore);
        }
        foreach (var superseded in keys.Where(k => k.RetiredAt is null && k != active && k.NotBefore <= active.NotBefore))
        {
            superseded.RetiredAt = active.NotBefore;
            Log.SigningKeyRetired(logger, superseded.Id);
        }

        // The next key, published ahead of the moment it takes over.
        var rotatesAt = active.NotBefore + lifetime;
        var next = keys.Where(k => k.RetiredAt is null && k.NotBefore > now).MaxBy(k => k.NotBefore);
        if (next is null && now >= rotatesAt - publishAhead)
        {
            (next, _) = CreateKey(now, notBefore: Max(rotatesAt, now + publishAhead));
            db.SigningKeys.Add(next);
            keys.Add(next);
            Log.SigningKeyCreated(logger, next.Id, next.NotBefore);
        }

        foreach (var expired in keys.Where(k => k.RetiredAt is { } retired && now >= retired + retention).ToList())
        {
            db.SigningKeys.Remove(expired);
            keys.Remove(expired);
            Log.SigningKeyRemoved(logger, expired.Id);
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var known = previous?.Published.ToDictionary(k => k.KeyId, StringComparer.Ordinal);
        var published = keys
            .OrderByDescending(k => k.NotBefore)
            .Select(k => k == active
                ? new SigningKeyMaterial(k.Id, new ECDsaSecurityKey(activePrivateKey!) { KeyId = k.Id }, k.NotBefore, k.RetiredAt)
                : known is not null && known.TryGetValue(k.Id, out var loaded)
                    ? loaded with { RetiredAt = k.RetiredAt }
                    : new SigningKeyMaterial(k.Id, ImportPublicKey(k), k.NotBefore, k.RetiredAt))
            .ToList();

        // Read again when the next key is due to be created or to take over, when a retired key is due to leave, or
        // after the reload interval, whichever comes first.
        var validUntil = new[] { now + ReloadInterval, next is null ? rotatesAt - publishAhead : next.NotBefore }
            .Concat(keys.Where(k => k.RetiredAt is not null).Select(k => k.RetiredAt!.Value + retention))
            .Where(t => t > now)
            .Min();

        return new SigningKeySet(published.Single(k => k.KeyId == active.Id), published, validUntil);
    }

    private (SigningKey Key, ECDsa PrivateKey) CreateKey(DateTimeOffset now, DateTimeOffset notBefore)
    {
        var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var pkcs8 = ecdsa.ExportPkcs8PrivateKey();
        try
        {
            return (new SigningKey
            {
                Id = ComputeKeyId(ecdsa),
                Algorithm = Algorithm,
                PublicKey = ecdsa.ExportSubjectPublicKeyInfo(),
                ProtectedPrivateKey = _protector.Protect(pkcs8),
                CreatedAt = now,
                NotBefore = notBefore,
            }, ecdsa);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    private bool TryUnprotect(SigningKey key, [NotNullWhen(true)] out ECDsa? privateKey)
    {
        byte[]? pkcs8 = null;
        try
        {
            pkcs8 = _protector.Unprotect(key.ProtectedPrivateKey);
            privateKey = ECDsa.Create();
            privateKey.ImportPkcs8PrivateKey(pkcs8, out _);
            return true;
        }
        catch (CryptographicException)
        {
            privateKey = null;
            return false;
        }
        finally
        {
            if (pkcs8 is not null)
            {
                CryptographicOperations.ZeroMemory(pkcs8);
            }
        }
    }

    private static ECDsaSecurityKey ImportPublicKey(SigningKey key)
    {
        var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(key.PublicKey, out _);
        return new ECDsaSecurityKey(ecdsa) { KeyId = key.Id };
    }

    /// <summary>The RFC 7638 thumbprint of the public key, base64url: stable and derived from the key itself.</summary>
    private static string ComputeKeyId(ECDsa ecdsa) =>
        Base64UrlEncoder.Encode(new ECDsaSecurityKey(ecdsa).ComputeJwkThumbprint());

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static partial class Log
    {
        [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "Signing key {KeyId} cannot be decrypted with the Data Protection key ring; it is retired and a new key signs. Was Identity:KeyRing:Path lost or changed?")]
        public static partial void SigningKeyUnreadable(ILogger logger, string keyId);

        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Created and published signing key {KeyId}; it signs new tokens from {NotBefore}")]
        public static partial void SigningKeyCreated(ILogger logger, string keyId, DateTimeOffset notBefore);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Retired signing key {KeyId}; it stays published until its tokens expire")]
        public static partial void SigningKeyRetired(ILogger logger, string keyId);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Removed signing key {KeyId}; every token it signed has expired")]
        public static partial void SigningKeyRemoved(ILogger logger, string keyId);
    }
}

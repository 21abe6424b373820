using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Portico.Identity.Infrastructure;

namespace Portico.Identity.Keys;

/// <summary>
/// Keeps the ES256 key ring in the database, so restarts and sibling instances share it, and rotates it:
/// when the active key is older than <see cref="SigningKeyOptions.Lifetime"/> a new key takes over and the
/// old one stays published for one access-token lifetime plus the clock skew, until every token it signed
/// has expired; then it is deleted. A snapshot is cached and read again at least every
/// <see cref="ReloadInterval"/>, so keys made by another instance appear here too.
/// </summary>
internal sealed partial class SigningKeyStore(
    IServiceScopeFactory scopeFactory,
    TimeProvider timeProvider,
    IOptions<IdentityServiceOptions> options,
    ILogger<SigningKeyStore> logger) : IDisposable
{
    public const string Algorithm = SecurityAlgorithms.EcdsaSha256;

    public static readonly TimeSpan ReloadInterval = TimeSpan.FromMinutes(1);

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
        var retention = settings.AccessTokenLifetime + settings.ClockSkew;

        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();

        // One transaction (BEGIN IMMEDIATE on SQLite): instances sharing a database see each other's rotation
        // instead of each creating a key.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var keys = await db.SigningKeys.ToListAsync(cancellationToken);

        var active = keys.Where(k => k.RetiredAt is null).MaxBy(k => k.CreatedAt);
        if (active is null || now - active.CreatedAt >= lifetime)
        {
            var created = CreateKey(now);
            foreach (var key in keys.Where(k => k.RetiredAt is null))
            {
                key.RetiredAt = now;
                Log.SigningKeyRetired(logger, key.Id);
            }
            db.SigningKeys.Add(created);
            keys.Add(created);
            active = created;
            Log.SigningKeyCreated(logger, created.Id);
        }
        else
        {
            // Two instances on a server database may each have made a key; the newest signs, the others retire.
            foreach (var key in keys.Where(k => k.RetiredAt is null && k != active))
            {
                key.RetiredAt = now;
            }
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
            .OrderByDescending(k => k.CreatedAt)
            .Select(k => known is not null && known.TryGetValue(k.Id, out var loaded)
                ? loaded with { RetiredAt = k.RetiredAt }
                : new SigningKeyMaterial(k.Id, ImportKey(k), k.CreatedAt, k.RetiredAt))
            .ToList();

        // Read again when the active key reaches its lifetime, when a retired key is due to leave, or after the
        // reload interval, whichever comes first.
        var validUntil = new[] { now + ReloadInterval, active.CreatedAt + lifetime }
            .Concat(keys.Where(k => k.RetiredAt is not null).Select(k => k.RetiredAt!.Value + retention))
            .Min();

        return new SigningKeySet(published.Single(k => k.KeyId == active.Id), published, validUntil);
    }

    private static SigningKey CreateKey(DateTimeOffset now)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new SigningKey
        {
            Id = ComputeKeyId(ecdsa),
            Algorithm = Algorithm,
            PrivateKey = ecdsa.ExportPkcs8PrivateKey(),
            CreatedAt = now,
        };
    }

    private static ECDsaSecurityKey ImportKey(SigningKey key)
    {
        var ecdsa = ECDsa.Create();
        ecdsa.ImportPkcs8PrivateKey(key.PrivateKey, out _);
        return new ECDsaSecurityKey(ecdsa) { KeyId = key.Id };
    }

    /// <summary>The RFC 7638 thumbprint of the public key, base64url: stable and derived from the key itself.</summary>
    private static string ComputeKeyId(ECDsa ecdsa) =>
        Base64UrlEncoder.Encode(new ECDsaSecurityKey(ecdsa).ComputeJwkThumbprint());

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Created signing key {KeyId}; it signs new tokens from now on")]
        public static partial void SigningKeyCreated(ILogger logger, string keyId);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Retired signing key {KeyId}; it stays published until its tokens expire")]
        public static partial void SigningKeyRetired(ILogger logger, string keyId);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Removed signing key {KeyId}; every token it signed has expired")]
        public static partial void SigningKeyRemoved(ILogger logger, string keyId);
    }
}

namespace Portico.Identity.Keys;

/// <summary>A stored ES256 signing key. The newest key that is not retired signs; retired keys stay published a while.</summary>
public sealed class SigningKey
{
    /// <summary>The <c>kid</c>: the key's RFC 7638 JWK thumbprint.</summary>
    public required string Id { get; set; }

    public required string Algorithm { get; set; }

    /// <summary>The P-256 private key, PKCS#8.</summary>
    public required byte[] PrivateKey { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When a newer key took over signing; null while this key is the active one.</summary>
    public DateTimeOffset? RetiredAt { get; set; }
}

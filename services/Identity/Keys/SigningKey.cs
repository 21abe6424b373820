namespace Portico.Identity.Keys;

/// <summary>
/// A stored ES256 signing key. It is published from <see cref="CreatedAt"/>, signs from <see cref="NotBefore"/> until
/// a newer key takes over (<see cref="RetiredAt"/>), and stays published until the tokens it signed have expired.
/// </summary>
public sealed class SigningKey
{
    /// <summary>The <c>kid</c>: the key's RFC 7638 JWK thumbprint.</summary>
    public required string Id { get; set; }

    public required string Algorithm { get; set; }

    /// <summary>The public key (SubjectPublicKeyInfo, DER): enough to publish and verify without the key ring.</summary>
    public required byte[] PublicKey { get; set; }

    /// <summary>The P-256 private key (PKCS#8) encrypted with ASP.NET Core Data Protection; never stored in the clear.</summary>
    public required byte[] ProtectedPrivateKey { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the key may start signing: <see cref="SigningKeyOptions.PublishAhead"/> after it is published.</summary>
    public DateTimeOffset NotBefore { get; set; }

    /// <summary>When a newer key took over signing; null while this key is the active or the next one.</summary>
    public DateTimeOffset? RetiredAt { get; set; }
}

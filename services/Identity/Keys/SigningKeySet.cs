using Microsoft.IdentityModel.Tokens;

namespace Portico.Identity.Keys;

/// <summary>A published key: its id, its public-and-private security key, and when it stopped signing.</summary>
internal sealed record SigningKeyMaterial(string KeyId, ECDsaSecurityKey Key, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt);

/// <summary>
/// A snapshot of the key ring: the key that signs now, every key still published (the active one
/// included), and the instant after which the snapshot must be read again.
/// </summary>
internal sealed record SigningKeySet(SigningKeyMaterial Active, IReadOnlyList<SigningKeyMaterial> Published, DateTimeOffset ValidUntil);

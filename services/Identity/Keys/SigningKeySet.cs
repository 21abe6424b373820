using Microsoft.IdentityModel.Tokens;

namespace Portico.Identity.Keys;

/// <summary>A published key: its id, its security key (with the private half only for the key that signs), and its times.</summary>
internal sealed record SigningKeyMaterial(string KeyId, ECDsaSecurityKey Key, DateTimeOffset NotBefore, DateTimeOffset? RetiredAt);

/// <summary>
/// A snapshot of the key ring: the key that signs now, every key still published (the active one, the next one
/// and retired ones), and the instant after which the snapshot must be read again.
/// </summary>
internal sealed record SigningKeySet(SigningKeyMaterial Active, IReadOnlyList<SigningKeyMaterial> Published, DateTimeOffset ValidUntil);

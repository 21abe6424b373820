using System.Text.Json.Serialization;
using Microsoft.IdentityModel.Tokens;

namespace Portico.Identity.Keys;

/// <summary>The body of <c>GET /.well-known/jwks.json</c> (RFC 7517): the public half of every published key.</summary>
public sealed record JsonWebKeySetDocument([property: JsonPropertyName("keys")] IReadOnlyList<PublicJsonWebKey> Keys)
{
    internal static JsonWebKeySetDocument From(SigningKeySet keySet) =>
        new(keySet.Published.Select(PublicJsonWebKey.From).ToList());
}

/// <summary>One EC public key as a JWK: <c>kty</c> EC, <c>crv</c> P-256, <c>alg</c> ES256, <c>use</c> sig.</summary>
public sealed record PublicJsonWebKey(
    [property: JsonPropertyName("kty")] string Kty,
    [property: JsonPropertyName("use")] string Use,
    [property: JsonPropertyName("alg")] string Alg,
    [property: JsonPropertyName("kid")] string Kid,
    [property: JsonPropertyName("crv")] string Crv,
    [property: JsonPropertyName("x")] string X,
    [property: JsonPropertyName("y")] string Y)
{
    internal static PublicJsonWebKey From(SigningKeyMaterial key)
    {
        // Public parameters only: D (the private scalar) is never exported here.
        var parameters = key.Key.ECDsa.ExportParameters(includePrivateParameters: false);
        return new PublicJsonWebKey(
            JsonWebAlgorithmsKeyTypes.EllipticCurve,
            JsonWebKeyUseNames.Sig,
            SigningKeyStore.Algorithm,
            key.KeyId,
            JsonWebKeyECTypes.P256,
            Base64UrlEncoder.Encode(parameters.Q.X!),
            Base64UrlEncoder.Encode(parameters.Q.Y!));
    }
}

using System.Text.Json.Serialization;

namespace Portico.Identity.Tokens;

/// <summary>
/// The body of a successful <c>POST /api/auth/token</c>, named as in OAuth 2.0 (RFC 6749 §5.1). The
/// <c>client_credentials</c> grant issues no refresh token, and the field is then left out (§4.4.3).
/// </summary>
public sealed record TokenResponse(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("refresh_token"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RefreshToken);

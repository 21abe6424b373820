using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Portico.Identity.Accounts;
using Portico.Identity.Clients;
using Portico.Identity.Tokens;

namespace Portico.Identity.Apis;

// The JSON bodies of the auth endpoints. They are not bound by minimal APIs: JsonFields reads each body by hand so that
// every fault is a problem+json answer naming the field. These records are the bodies' contract: JsonFields accepts
// exactly their fields (JsonFields.ReadAsync<T>), and the OpenAPI document describes them (IdentityRequestSchemas). The
// attributes only describe the rules the handlers check: required fields carry [Required]; optional ones are
// non-nullable, because JSON null is refused for them too; the lengths are the handlers' limits (a maximum counts UTF-16
// units there and code points in JSON Schema, so for text outside the BMP the schema is the looser of the two).

/// <summary>The body of <c>POST /api/auth/register</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RegisterRequest
{
    [Required, JsonPropertyName(IdentityFields.Email), StringLength(AccountRules.MaxEmailLength, MinimumLength = 1)]
    [Description("The address to sign in with; a verification link is mailed to it.")]
    public string Email { get; init; } = "";

    [Required, JsonPropertyName(IdentityFields.Password), StringLength(AccountRules.MaxPasswordLength, MinimumLength = AccountRules.MinPasswordLength)]
    [Description("At least 12 characters (code points), not blank, not on lists of leaked passwords.")]
    public string Password { get; init; } = "";

    [Required, JsonPropertyName(IdentityFields.Name), StringLength(AccountRules.MaxNameLength, MinimumLength = 1)]
    [Description("The name shown for the account; no control characters.")]
    public string Name { get; init; } = "";
}

/// <summary>
/// The body of <c>POST /api/auth/token</c>: which fields are required depends on <c>grant_type</c> (the password grant
/// when it is absent), and a field of another grant is refused. The document says so with a <c>oneOf</c> per grant
/// (<see cref="IdentityRequestSchemas"/>).
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record TokenRequest
{
    [JsonPropertyName(IdentityFields.GrantType)]
    [Description("password (the default), refresh_token or client_credentials.")]
    public string GrantType { get; init; } = GrantTypes.Password;

    [JsonPropertyName(IdentityFields.Email), StringLength(AccountRules.MaxEmailLength, MinimumLength = 1)]
    [Description("The password grant: the account's address.")]
    public string Email { get; init; } = "";

    [JsonPropertyName(IdentityFields.Password), StringLength(AccountRules.MaxPasswordLength, MinimumLength = 1)]
    [Description("The password grant: the account's password.")]
    public string Password { get; init; } = "";

    [JsonPropertyName(IdentityFields.RefreshToken), StringLength(RefreshTokenService.MaxTokenLength, MinimumLength = 1)]
    [Description("The refresh_token grant: the refresh token of the login.")]
    public string RefreshToken { get; init; } = "";

    [JsonPropertyName(IdentityFields.ClientId), StringLength(ServiceClientRules.MaxClientIdLength, MinimumLength = 1)]
    [Description("The password and refresh_token grants: an optional public client id the login is bound to; the client_credentials grant: the service client.")]
    public string ClientId { get; init; } = "";

    [JsonPropertyName(IdentityFields.ClientSecret), StringLength(ServiceClientRules.MaxSecretLength, MinimumLength = 1)]
    [Description("The client_credentials grant: the service client's secret.")]
    public string ClientSecret { get; init; } = "";

    [JsonPropertyName(IdentityFields.Resource), StringLength(256, MinimumLength = 1)]
    [Description("The client_credentials grant, optional: the one service the token is for (RFC 8707), e.g. urn:portico:loyalty.")]
    public string Resource { get; init; } = "";
}

/// <summary>The body of <c>POST /api/auth/logout</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record LogoutRequest
{
    [Required, JsonPropertyName(IdentityFields.RefreshToken), StringLength(RefreshTokenService.MaxTokenLength, MinimumLength = 1)]
    [Description("The refresh token of the login to end.")]
    public string RefreshToken { get; init; } = "";
}

/// <summary>The body of <c>POST /api/auth/password</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ChangePasswordRequest
{
    [Required, JsonPropertyName(IdentityFields.CurrentPassword), StringLength(AccountRules.MaxPasswordLength, MinimumLength = 1)]
    public string CurrentPassword { get; init; } = "";

    [Required, JsonPropertyName(IdentityFields.NewPassword), StringLength(AccountRules.MaxPasswordLength, MinimumLength = AccountRules.MinPasswordLength)]
    [Description("At least 12 characters (code points), not blank, not on lists of leaked passwords.")]
    public string NewPassword { get; init; } = "";
}

/// <summary>The body of <c>POST /api/auth/password/reset-request</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PasswordResetRequest
{
    [Required, JsonPropertyName(IdentityFields.Email), StringLength(AccountRules.MaxEmailLength, MinimumLength = 1)]
    [Description("The account's address; the answer is the same whether it has an account or not.")]
    public string Email { get; init; } = "";
}

/// <summary>The body of <c>POST /api/auth/password/reset</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ResetPasswordRequest
{
    [Required, JsonPropertyName(IdentityFields.Token), StringLength(RefreshTokenService.MaxTokenLength, MinimumLength = 1)]
    [Description("The single-use token from the reset mail.")]
    public string Token { get; init; } = "";

    [Required, JsonPropertyName(IdentityFields.NewPassword), StringLength(AccountRules.MaxPasswordLength, MinimumLength = AccountRules.MinPasswordLength)]
    [Description("At least 12 characters (code points), not blank, not on lists of leaked passwords.")]
    public string NewPassword { get; init; } = "";
}

/// <summary>The body of <c>POST /api/auth/verify-email</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record VerifyEmailRequest
{
    [Required, JsonPropertyName(IdentityFields.Token), StringLength(RefreshTokenService.MaxTokenLength, MinimumLength = 1)]
    [Description("The token from the verification mail.")]
    public string Token { get; init; } = "";
}

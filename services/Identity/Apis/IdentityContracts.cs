namespace Portico.Identity.Apis;

/// <summary>
/// The body of the <c>202</c> from <c>POST /api/auth/register</c>: the same for a new address and a registered one,
/// so that it says nothing about which it was.
/// </summary>
public sealed record RegistrationAcceptedResponse(string Status, string Detail)
{
    internal static readonly RegistrationAcceptedResponse Instance = new(
        "accepted",
        "Check your email. If this address had no account, it has one now: sign in with the password given, and confirm the address with the link mailed to it. An address that already had an account keeps it, with its own password.");
}

/// <summary>The body of <c>GET /api/auth/me</c>.</summary>
public sealed record CurrentUserResponse(Guid Id, string Email, string Name, string Role);

/// <summary>Field names of the JSON bodies the auth endpoints accept (the bodies themselves: IdentityRequests.cs).</summary>
internal static class IdentityFields
{
    public const string Email = "email";
    public const string Password = "password";
    public const string Name = "name";
    public const string GrantType = "grant_type";
    public const string RefreshToken = "refresh_token";
    public const string ClientId = "client_id";
    public const string ClientSecret = "client_secret";
    public const string CurrentPassword = "current_password";
    public const string NewPassword = "new_password";
    public const string Token = "token";
    public const string Resource = "resource";
}

/// <summary>Values of <c>grant_type</c> accepted by <c>POST /api/auth/token</c>.</summary>
internal static class GrantTypes
{
    public const string Password = "password";
    public const string RefreshToken = "refresh_token";
    public const string ClientCredentials = "client_credentials";
}

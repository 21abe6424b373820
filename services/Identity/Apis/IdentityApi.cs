using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Net.Http.Headers;
using Portico.Identity.Accounts;
using Portico.Identity.Clients;
using Portico.Identity.Infrastructure;
using Portico.Identity.Keys;
using Portico.Identity.Tokens;

namespace Portico.Identity.Apis;

public static class IdentityApi
{
    /// <summary>How long a client may keep the key set; an unknown <c>kid</c> is the cue to fetch it again sooner.</summary>
    public static readonly TimeSpan JwksMaxAge = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Maps <c>POST /api/auth/register</c>, <c>POST /api/auth/token</c>, <c>GET /api/auth/me</c>,
    /// <c>POST /api/auth/logout</c>, <c>POST /api/auth/password</c>, the password reset, <c>DELETE /api/auth/users/{id}</c>
    /// (administrators), <c>POST /api/auth/verify-email</c> and <c>GET /.well-known/jwks.json</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapIdentityApi(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/api/auth").WithTags("Identity");
        auth.MapPost("/register", RegisterAsync).WithName("Register").WithJsonBody<RegisterRequest>();
        auth.MapPost("/token", IssueTokenAsync).WithName("IssueToken").WithJsonBody<TokenRequest>();
        auth.MapGet("/me", GetCurrentUserAsync).WithName("GetCurrentUser").RequireAuthorization();
        auth.MapSessionApi();
        auth.MapPost("/verify-email", VerifyEmailAsync).WithName("VerifyEmail").WithJsonBody<VerifyEmailRequest>();

        app.MapGet("/.well-known/jwks.json", GetKeySetAsync).WithTags("Identity").WithName("GetJsonWebKeySet");
        return app;
    }

    /// <summary>
    /// Creates an account with the <c>user</c> role. A new address and one that is already registered get the same
    /// answer, 202 with the same body, after the same work (the password is hashed either way), so registration never
    /// tells whether an address has an account (ASVS 2.5/3.x enumeration). Only a malformed body is a 400.
    /// </summary>
    internal static async Task<Results<Accepted<RegistrationAcceptedResponse>, ValidationProblem, ProblemHttpResult>> RegisterAsync(
        HttpRequest request,
        IdentityDbContext db,
        AccountPasswords passwords,
        EmailVerification verification,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync<RegisterRequest>(request, cancellationToken);
        if (body.Failure is { } failure)
        {
            return failure;
        }

        var email = body.RequiredString(IdentityFields.Email)?.Trim();
        var password = body.RequiredString(IdentityFields.Password);
        var name = body.RequiredString(IdentityFields.Name)?.Trim();
        if (email is not null)
        {
            body.Check(IdentityFields.Email, AccountRules.CheckEmail(email));
        }
        if (password is not null)
        {
            body.Check(IdentityFields.Password, AccountRules.CheckPassword(password));
        }
        if (name is not null)
        {
            body.Check(IdentityFields.Name, AccountRules.CheckName(name));
        }
        if (body.HasErrors || email is null || password is null || name is null)
        {
            return body.ToValidationProblem();
        }

        var normalizedEmail = AccountRules.NormalizeEmail(email);
        var taken = await db.Users.AnyAsync(u => u.NormalizedEmail == normalizedEmail, cancellationToken);
        var user = new User
        {
            Id = Guid.NewGuid(),
            Email = AccountRules.DisplayEmail(email),
            NormalizedEmail = normalizedEmail,
            Name = name,
            PasswordHash = "",
            Role = Roles.User,
            CreatedAt = timeProvider.GetUtcNow(),
        };
        // Hashed whether the address is taken or not: the answer must take as long either way.
        user.PasswordHash = await passwords.HashAsync(user, password, cancellationToken);
        if (!taken)
        {
            db.Users.Add(user);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException)
            {
                // The unique index settles a race between two registrations of one address: the first one wins.
                db.ChangeTracker.Clear();
                if (!await db.Users.AnyAsync(u => u.NormalizedEmail == normalizedEmail, cancellationToken))
                {
                    throw;
                }
                taken = true;
            }
        }
        // Mail either way: a verification link for a new account, a notice to the owner of a taken address.
        if (taken)
        {
            await verification.SendAlreadyRegisteredAsync(user.Email, cancellationToken);
        }
        else
        {
            await verification.SendVerificationAsync(user, cancellationToken);
        }

        return TypedResults.Accepted((string?)null, RegistrationAcceptedResponse.Instance);
    }

    /// <summary>Confirms an address with the token mailed at registration: 204, or 400 naming <c>token</c>.</summary>
    internal static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> VerifyEmailAsync(
        HttpRequest request,
        EmailVerification verification,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync<VerifyEmailRequest>(request, cancellationToken);
        if (body.Failure is { } failure)
        {
            return failure;
        }
        var token = body.RequiredString(IdentityFields.Token);
        CheckLength(body, IdentityFields.Token, token, RefreshTokenService.MaxTokenLength);
        if (body.HasErrors || token is null)
        {
            return body.ToValidationProblem();
        }
        if (!await verification.VerifyAsync(token, cancellationToken))
        {
            body.Check(IdentityFields.Token, "token is unknown or expired.");
            return body.ToValidationProblem();
        }
        return TypedResults.NoContent();
    }

    /// <summary>
    /// The token endpoint; a JSON object of string fields in, <c>{access_token, token_type, expires_in,
    /// refresh_token}</c> out. Without <c>grant_type</c> (or with <c>password</c>) it takes <c>email</c> and
    /// <c>password</c>; with <c>refresh_token</c> it takes <c>refresh_token</c>; with <c>client_credentials</c> it
    /// takes the <c>client_id</c> and <c>client_secret</c> of a service client configured under
    /// <c>Identity:Clients</c> and an optional <c>resource</c> (RFC 8707: the one service the token is for; 400
    /// <c>invalid_target</c> when the client may not call it), and answers without a <c>refresh_token</c>. A field another grant uses is a 400;
    /// wrong credentials are a 401 that does not say which part was wrong.
    /// </summary>
    internal static async Task<Results<Ok<TokenResponse>, ValidationProblem, ProblemHttpResult>> IssueTokenAsync(
        HttpRequest request,
        HttpResponse response,
        TokenService tokens,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync<TokenRequest>(request, cancellationToken);
        if (body.Failure is { } failure)
        {
            return failure;
        }

        TokenOutcome? outcome = null;
        switch (body.OptionalString(IdentityFields.GrantType))
        {
            case null or GrantTypes.Password:
                var email = body.RequiredString(IdentityFields.Email);
                var password = body.RequiredString(IdentityFields.Password);
                var loginClientId = body.OptionalString(IdentityFields.ClientId);
                RejectOtherGrantsFields(body, "the password grant", IdentityFields.Email, IdentityFields.Password, IdentityFields.ClientId);
                CheckLength(body, IdentityFields.Email, email, AccountRules.MaxEmailLength);
                CheckLength(body, IdentityFields.Password, password, AccountRules.MaxPasswordLength);
                CheckPublicClientId(body, loginClientId);
                if (!body.HasErrors && email is not null && password is not null)
                {
                    outcome = await tokens.PasswordGrantAsync(email, password, loginClientId, request.HttpContext.Connection.RemoteIpAddress, cancellationToken);
                }
                break;

            case GrantTypes.RefreshToken:
                var refreshToken = body.RequiredString(IdentityFields.RefreshToken);
                var refreshClientId = body.OptionalString(IdentityFields.ClientId);
                RejectOtherGrantsFields(body, "the refresh_token grant", IdentityFields.RefreshToken, IdentityFields.ClientId);
                CheckLength(body, IdentityFields.RefreshToken, refreshToken, RefreshTokenService.MaxTokenLength);
                CheckPublicClientId(body, refreshClientId);
                if (!body.HasErrors && refreshToken is not null)
                {
                    outcome = await tokens.RefreshGrantAsync(refreshToken, refreshClientId, cancellationToken);
                }
                break;

            case GrantTypes.ClientCredentials:
                var clientId = body.RequiredString(IdentityFields.ClientId);
                var clientSecret = body.RequiredString(IdentityFields.ClientSecret);
                var resource = body.OptionalString(IdentityFields.Resource);
                RejectOtherGrantsFields(body, "the client_credentials grant", IdentityFields.ClientId, IdentityFields.ClientSecret, IdentityFields.Resource);
                CheckLength(body, IdentityFields.ClientId, clientId, ServiceClientRules.MaxClientIdLength);
                CheckLength(body, IdentityFields.ClientSecret, clientSecret, ServiceClientRules.MaxSecretLength);
                CheckLength(body, IdentityFields.Resource, resource, 256);
                if (!body.HasErrors && clientId is not null && clientSecret is not null)
                {
                    outcome = await tokens.ClientCredentialsGrantAsync(clientId, clientSecret, resource, cancellationToken);
                }
                break;

            default:
                body.Check(IdentityFields.GrantType,
                    $"grant_type must be \"{GrantTypes.Password}\", \"{GrantTypes.RefreshToken}\" or \"{GrantTypes.ClientCredentials}\" when present.");
                break;
        }
        if (outcome is null)
        {
            return body.ToValidationProblem();
        }

        // Tokens must not be kept by caches (RFC 6749 §5.1).
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
        switch (outcome.Kind)
        {
            case TokenOutcomeKind.Issued:
                return TypedResults.Ok(outcome.Response);
            case TokenOutcomeKind.LockedOut:
                response.Headers.RetryAfter = ((long)Math.Ceiling(Math.Max(1, outcome.RetryAfter.TotalSeconds))).ToString(CultureInfo.InvariantCulture);
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status429TooManyRequests,
                    title: "Too many failed logins",
                    detail: "Logins from this address are paused after repeated failures. Try again after the time in Retry-After.");
            case TokenOutcomeKind.InvalidRefreshToken:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status401Unauthorized,
                    title: "Invalid refresh token",
                    detail: "The refresh token is unknown, expired, already used or revoked. Log in again.");
            case TokenOutcomeKind.EmailNotVerified:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status403Forbidden,
                    title: "Email not verified",
                    detail: "Confirm the email address with the link mailed at registration, then sign in again.");
            case TokenOutcomeKind.InvalidTarget:
                // RFC 8707 §2: an unknown, malformed or missing resource, or one this client may not call.
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status400BadRequest,
                    title: "Invalid target",
                    detail: "The resource is not one this client may call. Name one of the client's resources, e.g. \"resource\": \"urn:portico:loyalty\".",
                    extensions: new Dictionary<string, object?> { ["error"] = "invalid_target" });
            case TokenOutcomeKind.InvalidClient:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status401Unauthorized,
                    title: "Invalid client credentials",
                    detail: "The client_id or client_secret is incorrect.");
            default:
                return TypedResults.Problem(
                    statusCode: StatusCodes.Status401Unauthorized,
                    title: "Invalid credentials",
                    detail: "The email or password is incorrect.");
        }
    }

    /// <summary>
    /// Who the bearer of the access token is, read fresh from the database. A service client's token is
    /// valid but names no account: that is a 403, not a reason to log in again.
    /// </summary>
    internal static async Task<Results<Ok<CurrentUserResponse>, ProblemHttpResult>> GetCurrentUserAsync(
        ClaimsPrincipal principal,
        IdentityDbContext db,
        CancellationToken cancellationToken)
    {
        var subject = principal.FindFirstValue(JwtRegisteredClaimNames.Sub);
        if (subject?.StartsWith(ServiceClient.SubjectPrefix, StringComparison.Ordinal) == true)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "Not a user",
                detail: "The token was issued to a service client, which has no account to describe.");
        }

        var user = Guid.TryParse(subject, out var id)
            ? await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == id, cancellationToken)
            : null;
        if (user is null)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: "Unknown user",
                detail: "The token's subject is not an account of this service.");
        }
        if (SessionApi.IsRevoked(principal, user))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: "Token revoked",
                detail: "The password was changed after this token was issued. Log in again.");
        }
        return TypedResults.Ok(new CurrentUserResponse(user.Id, user.Email, user.Name, user.Role));
    }

    /// <summary>The public keys that verify access tokens (RFC 7517).</summary>
    internal static async Task<Ok<JsonWebKeySetDocument>> GetKeySetAsync(
        SigningKeyStore keys,
        HttpResponse response,
        CancellationToken cancellationToken)
    {
        var keySet = await keys.GetKeySetAsync(cancellationToken);
        response.GetTypedHeaders().CacheControl = new CacheControlHeaderValue { Public = true, MaxAge = JwksMaxAge };
        return TypedResults.Ok(JsonWebKeySetDocument.From(keySet));
    }

    /// <summary>A public client's optional <c>client_id</c>: the refresh tokens of the login are bound to it.</summary>
    private static void CheckPublicClientId(JsonFields body, string? clientId)
    {
        if (clientId is not null && ServiceClientRules.CheckClientId(clientId) is { } error)
        {
            body.Check(IdentityFields.ClientId, error);
        }
    }

    internal static void CheckLength(JsonFields body, string field, string? value, int maxLength)
    {
        if (value is { Length: 0 })
        {
            body.Check(field, $"{field} is required.");
        }
        else if (value?.Length > maxLength)
        {
            body.Check(field, $"{field} must be at most {maxLength} characters.");
        }
    }

    private static readonly string[] GrantFields =
        [IdentityFields.Email, IdentityFields.Password, IdentityFields.RefreshToken, IdentityFields.ClientId, IdentityFields.ClientSecret, IdentityFields.Resource];

    /// <summary>A field that belongs to another grant is a mistake worth naming, not something to ignore.</summary>
    private static void RejectOtherGrantsFields(JsonFields body, string grant, params string[] own)
    {
        foreach (var field in GrantFields)
        {
            if (!own.Contains(field) && body.OptionalString(field) is not null)
            {
                body.Check(field, $"{field} is not used by {grant}.");
            }
        }
    }
}

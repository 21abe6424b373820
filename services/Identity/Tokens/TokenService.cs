using System.Net;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portico.Identity.Accounts;
using Portico.Identity.Clients;
using Portico.Identity.Infrastructure;
using Portico.Identity.Lockout;

namespace Portico.Identity.Tokens;

/// <summary>The grants of <c>POST /api/auth/token</c>: email and password, refresh token, and client credentials.</summary>
internal sealed class TokenService(
    IdentityDbContext db,
    AccountPasswords passwords,
    LoginLockout lockout,
    AccessTokenIssuer accessTokens,
    RefreshTokenService refreshTokens,
    ServiceClientAuthenticator clients,
    TimeProvider timeProvider,
    IOptions<IdentityServiceOptions> options)
{
    public const string BearerTokenType = "Bearer";

    /// <summary>
    /// Signs a user in. An unknown address and a wrong password take the same path — a password hash is
    /// checked either way and failures count towards the lockout either way — so the outcome never tells
    /// whether an account exists.
    /// </summary>
    public async Task<TokenOutcome> PasswordGrantAsync(string email, string password, string? clientId, IPAddress? clientAddress, CancellationToken cancellationToken)
    {
        var normalizedEmail = AccountRules.NormalizeEmail(email.Trim());
        var attempt = await lockout.BeginAsync(normalizedEmail, ClientAddress.Group(clientAddress), cancellationToken);
        if (attempt.RetryAfter is { } locked)
        {
            return TokenOutcome.LockedOut(locked);
        }
        if (attempt.Slowdown > TimeSpan.Zero)
        {
            await Task.Delay(attempt.Slowdown, timeProvider, cancellationToken);
        }

        var user = await db.Users.SingleOrDefaultAsync(u => u.NormalizedEmail == normalizedEmail, cancellationToken);
        PasswordVerificationResult verification;
        try
        {
            verification = await passwords.VerifyAsync(user, password, cancellationToken);
        }
        catch (PasswordHashingBusyException)
        {
            // Not checked, so not a failure: the attempt is given back.
            await lockout.AbandonAsync(attempt);
            throw;
        }
        if (user is null || verification == PasswordVerificationResult.Failed)
        {
            return await lockout.FailedAsync(attempt) is { } lockedNow
                ? TokenOutcome.LockedOut(lockedNow)
                : TokenOutcome.InvalidCredentials;
        }

        await lockout.SucceededAsync(attempt);
        if (IsUnverifiedPastGrace(user))
        {
            return TokenOutcome.EmailNotVerified;
        }
        if (verification == PasswordVerificationResult.SuccessRehashNeeded)
        {
            user.PasswordHash = await passwords.HashAsync(user, password, cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
        }

        var refreshToken = await refreshTokens.StartFamilyAsync(user, clientId, cancellationToken);
        return TokenOutcome.Issued(CreateResponse(await accessTokens.IssueAsync(user, cancellationToken), refreshToken));
    }

    /// <summary>Exchanges a refresh token for a new access token and the refresh token that replaces it.</summary>
    public async Task<TokenOutcome> RefreshGrantAsync(string refreshToken, string? clientId, CancellationToken cancellationToken)
    {
        var rotated = await refreshTokens.RotateAsync(refreshToken, clientId, cancellationToken);
        if (rotated is not null && IsUnverifiedPastGrace(rotated.User))
        {
            return TokenOutcome.EmailNotVerified;
        }
        return rotated is null
            ? TokenOutcome.InvalidRefreshToken
            : TokenOutcome.Issued(CreateResponse(await accessTokens.IssueAsync(rotated.User, cancellationToken), rotated.RefreshToken));
    }

    /// <summary>
    /// Gives a configured service client an access token of its own for one service, and no refresh token: it can
    /// always present its secret again. An unknown id and a wrong secret come to the same outcome; only an
    /// authenticated client learns whether <paramref name="resource"/> (RFC 8707) is one it may call.
    /// </summary>
    public async Task<TokenOutcome> ClientCredentialsGrantAsync(string clientId, string clientSecret, string? resource, CancellationToken cancellationToken)
    {
        if (clients.Authenticate(clientId, clientSecret) is not { } client)
        {
            return TokenOutcome.InvalidClient;
        }
        return client.ResolveResource(resource) is { } audience
            ? TokenOutcome.Issued(CreateResponse(await accessTokens.IssueAsync(client, audience, cancellationToken), refreshToken: null))
            : TokenOutcome.InvalidTarget;
    }

    private bool IsUnverifiedPastGrace(User user) =>
        user.EmailVerifiedAt is null && timeProvider.GetUtcNow() >= user.CreatedAt + options.Value.UnverifiedLoginGrace;

    private TokenResponse CreateResponse(string accessToken, string? refreshToken) =>
        new(accessToken, BearerTokenType, (int)accessTokens.Lifetime.TotalSeconds, refreshToken);
}

/// <summary>What a token request came to.</summary>
internal sealed record TokenOutcome(TokenOutcomeKind Kind, TokenResponse? Response = null, TimeSpan RetryAfter = default)
{
    public static readonly TokenOutcome InvalidCredentials = new(TokenOutcomeKind.InvalidCredentials);

    public static readonly TokenOutcome InvalidRefreshToken = new(TokenOutcomeKind.InvalidRefreshToken);

    public static readonly TokenOutcome InvalidClient = new(TokenOutcomeKind.InvalidClient);

    public static readonly TokenOutcome EmailNotVerified = new(TokenOutcomeKind.EmailNotVerified);

    public static readonly TokenOutcome InvalidTarget = new(TokenOutcomeKind.InvalidTarget);

    public static TokenOutcome Issued(TokenResponse response) => new(TokenOutcomeKind.Issued, response);

    public static TokenOutcome LockedOut(TimeSpan retryAfter) => new(TokenOutcomeKind.LockedOut, RetryAfter: retryAfter);
}

internal enum TokenOutcomeKind
{
    Issued,
    InvalidCredentials,
    LockedOut,
    InvalidRefreshToken,
    InvalidClient,
    EmailNotVerified,
    InvalidTarget,
}

using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portico.Identity.Accounts;
using Portico.Identity.Infrastructure;
using Portico.Identity.Lockout;

namespace Portico.Identity.Tokens;

/// <summary>The two grants of <c>POST /api/auth/token</c>: email and password, and refresh token.</summary>
internal sealed class TokenService(
    IdentityDbContext db,
    AccountPasswords passwords,
    LoginLockout lockout,
    AccessTokenIssuer accessTokens,
    RefreshTokenService refreshTokens)
{
    public const string BearerTokenType = "Bearer";

    /// <summary>
    /// Signs a user in. An unknown address and a wrong password take the same path — a password hash is
    /// checked either way and failures count towards the lockout either way — so the outcome never tells
    /// whether an account exists.
    /// </summary>
    public async Task<TokenOutcome> PasswordGrantAsync(string email, string password, CancellationToken cancellationToken)
    {
        var normalizedEmail = AccountRules.NormalizeEmail(email.Trim());
        if (await lockout.GetRemainingLockAsync(normalizedEmail, cancellationToken) is { } locked)
        {
            return TokenOutcome.LockedOut(locked);
        }

        var user = await db.Users.SingleOrDefaultAsync(u => u.NormalizedEmail == normalizedEmail, cancellationToken);
        var verification = passwords.Verify(user, password);
        if (user is null || verification == PasswordVerificationResult.Failed)
        {
            return await lockout.RecordFailureAsync(normalizedEmail, cancellationToken) is { } lockedNow
                ? TokenOutcome.LockedOut(lockedNow)
                : TokenOutcome.InvalidCredentials;
        }

        await lockout.ResetAsync(normalizedEmail, cancellationToken);
        if (verification == PasswordVerificationResult.SuccessRehashNeeded)
        {
            user.PasswordHash = passwords.Hash(user, password);
            await db.SaveChangesAsync(cancellationToken);
        }

        var refreshToken = await refreshTokens.StartFamilyAsync(user, cancellationToken);
        return TokenOutcome.Issued(await CreateResponseAsync(user, refreshToken, cancellationToken));
    }

    /// <summary>Exchanges a refresh token for a new access token and the refresh token that replaces it.</summary>
    public async Task<TokenOutcome> RefreshGrantAsync(string refreshToken, CancellationToken cancellationToken)
    {
        var rotated = await refreshTokens.RotateAsync(refreshToken, cancellationToken);
        return rotated is null
            ? TokenOutcome.InvalidRefreshToken
            : TokenOutcome.Issued(await CreateResponseAsync(rotated.User, rotated.RefreshToken, cancellationToken));
    }

    private async Task<TokenResponse> CreateResponseAsync(User user, string refreshToken, CancellationToken cancellationToken) => new(
        await accessTokens.IssueAsync(user, cancellationToken),
        BearerTokenType,
        (int)accessTokens.Lifetime.TotalSeconds,
        refreshToken);
}

/// <summary>What a token request came to.</summary>
internal sealed record TokenOutcome(TokenOutcomeKind Kind, TokenResponse? Response = null, TimeSpan RetryAfter = default)
{
    public static readonly TokenOutcome InvalidCredentials = new(TokenOutcomeKind.InvalidCredentials);

    public static readonly TokenOutcome InvalidRefreshToken = new(TokenOutcomeKind.InvalidRefreshToken);

    public static TokenOutcome Issued(TokenResponse response) => new(TokenOutcomeKind.Issued, response);

    public static TokenOutcome LockedOut(TimeSpan retryAfter) => new(TokenOutcomeKind.LockedOut, RetryAfter: retryAfter);
}

internal enum TokenOutcomeKind
{
    Issued,
    InvalidCredentials,
    LockedOut,
    InvalidRefreshToken,
}

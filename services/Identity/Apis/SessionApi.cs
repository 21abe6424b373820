using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Portico.Identity.Accounts;
using Portico.Identity.Infrastructure;
using Portico.Identity.Lockout;
using Portico.Identity.Tokens;

namespace Portico.Identity.Apis;

/// <summary>Ending sessions: logout (one login), password change and password reset (every login of the user).</summary>
internal static class SessionApi
{
    public static RouteGroupBuilder MapSessionApi(this RouteGroupBuilder auth)
    {
        auth.MapPost("/logout", LogoutAsync).WithName("Logout");
        auth.MapPost("/password", ChangePasswordAsync).WithName("ChangePassword").RequireAuthorization();
        auth.MapPost("/password/reset-request", RequestPasswordResetAsync).WithName("RequestPasswordReset");
        auth.MapPost("/password/reset", ResetPasswordAsync).WithName("ResetPassword");
        return auth;
    }

    /// <summary>
    /// Revokes the login (refresh token family) of the <c>refresh_token</c> in the body. The answer is 204 whether the
    /// token was known or not (RFC 7009 §2.2), so it tells nothing about tokens.
    /// </summary>
    internal static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> LogoutAsync(
        HttpRequest request,
        RefreshTokenService refreshTokens,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync(request, IdentityFields.Logout, cancellationToken);
        if (body.Failure is { } failure)
        {
            return failure;
        }
        var refreshToken = body.RequiredString(IdentityFields.RefreshToken);
        IdentityApi.CheckLength(body, IdentityFields.RefreshToken, refreshToken, RefreshTokenService.MaxTokenLength);
        if (body.HasErrors || refreshToken is null)
        {
            return body.ToValidationProblem();
        }

        await refreshTokens.RevokeAsync(refreshToken);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Changes the signed-in user's password, given the current one (throttled like a login), and ends every login of
    /// the user: all refresh token families are revoked, and this service refuses access tokens issued before.
    /// </summary>
    internal static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ChangePasswordAsync(
        HttpRequest request,
        HttpResponse response,
        ClaimsPrincipal principal,
        IdentityDbContext db,
        AccountPasswords passwords,
        LoginLockout lockout,
        RefreshTokenService refreshTokens,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync(request, IdentityFields.ChangePassword, cancellationToken);
        if (body.Failure is { } failure)
        {
            return failure;
        }
        var current = body.RequiredString(IdentityFields.CurrentPassword);
        var next = body.RequiredString(IdentityFields.NewPassword);
        IdentityApi.CheckLength(body, IdentityFields.CurrentPassword, current, AccountRules.MaxPasswordLength);
        if (next is not null)
        {
            body.Check(IdentityFields.NewPassword, AccountRules.CheckPassword(next));
        }
        if (body.HasErrors || current is null || next is null)
        {
            return body.ToValidationProblem();
        }

        var user = Guid.TryParse(principal.FindFirstValue(JwtRegisteredClaimNames.Sub), out var id)
            ? await db.Users.SingleOrDefaultAsync(u => u.Id == id, cancellationToken)
            : null;
        if (user is null || IsRevoked(principal, user))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "Not a current user",
                detail: "Only a user signed in since the last password change can change the password.");
        }

        // The current password is a guess like any login's: counted the same way, per (account, client address).
        var attempt = await lockout.BeginAsync(user.NormalizedEmail, ClientAddress.Group(request.HttpContext.Connection.RemoteIpAddress), cancellationToken);
        if (attempt.RetryAfter is { } locked)
        {
            return TooMany(response, locked);
        }
        PasswordVerificationResult verification;
        try
        {
            verification = await passwords.VerifyAsync(user, current, cancellationToken);
        }
        catch (PasswordHashingBusyException)
        {
            await lockout.AbandonAsync(attempt);
            throw;
        }
        if (verification == PasswordVerificationResult.Failed)
        {
            if (await lockout.FailedAsync(attempt) is { } lockedNow)
            {
                return TooMany(response, lockedNow);
            }
            body.Check(IdentityFields.CurrentPassword, "current_password is incorrect.");
            return body.ToValidationProblem();
        }
        await lockout.SucceededAsync(attempt);

        var now = timeProvider.GetUtcNow();
        user.PasswordHash = await passwords.HashAsync(user, next, cancellationToken);
        user.TokensRevokedBefore = now;
        await db.SaveChangesAsync(cancellationToken);
        await refreshTokens.RevokeAllAsync(user.Id, now);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Asks for a password reset mail. 202 for any well-formed address, at once: the account is looked up and the mail
    /// sent in the background, so neither the answer nor its timing says whether the address has an account.
    /// </summary>
    internal static async Task<Results<Accepted, ValidationProblem, ProblemHttpResult>> RequestPasswordResetAsync(
        HttpRequest request,
        PasswordReset reset,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync(request, IdentityFields.ResetRequest, cancellationToken);
        if (body.Failure is { } failure)
        {
            return failure;
        }
        var email = body.RequiredString(IdentityFields.Email)?.Trim();
        IdentityApi.CheckLength(body, IdentityFields.Email, email, AccountRules.MaxEmailLength);
        if (body.HasErrors || email is null)
        {
            return body.ToValidationProblem();
        }
        reset.Request(AccountRules.NormalizeEmail(email));
        return TypedResults.Accepted((string?)null);
    }

    /// <summary>
    /// Sets a new password with the single-use token from a reset mail, and ends every login of the user as a password
    /// change does. An unknown, used or expired token is a 400 naming <c>token</c>.
    /// </summary>
    internal static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> ResetPasswordAsync(
        HttpRequest request,
        IdentityDbContext db,
        AccountPasswords passwords,
        RefreshTokenService refreshTokens,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync(request, IdentityFields.Reset, cancellationToken);
        if (body.Failure is { } failure)
        {
            return failure;
        }
        var token = body.RequiredString(IdentityFields.Token);
        var next = body.RequiredString(IdentityFields.NewPassword);
        IdentityApi.CheckLength(body, IdentityFields.Token, token, RefreshTokenService.MaxTokenLength);
        if (next is not null)
        {
            body.Check(IdentityFields.NewPassword, AccountRules.CheckPassword(next));
        }
        if (body.HasErrors || token is null || next is null)
        {
            return body.ToValidationProblem();
        }

        var now = timeProvider.GetUtcNow();
        if (await PasswordReset.RedeemAsync(db, token, now, cancellationToken) is not { } user)
        {
            body.Check(IdentityFields.Token, "token is unknown, already used or expired; ask for a new reset mail.");
            return body.ToValidationProblem();
        }
        user.PasswordHash = await passwords.HashAsync(user, next, cancellationToken);
        user.TokensRevokedBefore = now;
        await db.SaveChangesAsync(cancellationToken);
        await refreshTokens.RevokeAllAsync(user.Id, now);
        return TypedResults.NoContent();
    }

    /// <summary>Whether the token was issued before the user's tokens were revoked (in whole seconds, as <c>iat</c> is).</summary>
    public static bool IsRevoked(ClaimsPrincipal principal, User user) =>
        user.TokensRevokedBefore is { } revokedBefore
        && (!long.TryParse(principal.FindFirstValue(JwtRegisteredClaimNames.Iat), NumberStyles.None, CultureInfo.InvariantCulture, out var iat)
            || iat < revokedBefore.ToUnixTimeSeconds());

    private static ProblemHttpResult TooMany(HttpResponse response, TimeSpan retryAfter)
    {
        response.Headers.RetryAfter = ((long)Math.Ceiling(Math.Max(1, retryAfter.TotalSeconds))).ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too many failed attempts",
            detail: "Password checks from this address are paused after repeated failures. Try again after the time in Retry-After.");
    }
}

using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Portico.Identity.Accounts;
using Portico.Identity.Infrastructure;
using Portico.Identity.Lockout;
using Portico.Identity.Revocation;
using Portico.Identity.Tokens;

namespace Portico.Identity.Apis;

/// <summary>
/// Ending sessions: logout (one login), password change and password reset (every login of the user), an account's
/// deletion. Each also revokes the user's access tokens issued until then — here, and through the revocation list in
/// the store at the gateway and every service within seconds (<see cref="TokenRevocations"/>).
/// </summary>
internal static class SessionApi
{
    public static RouteGroupBuilder MapSessionApi(this RouteGroupBuilder auth)
    {
        auth.MapPost("/logout", LogoutAsync).WithName("Logout").WithJsonBody<LogoutRequest>();
        auth.MapPost("/password", ChangePasswordAsync).WithName("ChangePassword").WithJsonBody<ChangePasswordRequest>().RequireAuthorization();
        auth.MapPost("/password/reset-request", RequestPasswordResetAsync).WithName("RequestPasswordReset").WithJsonBody<PasswordResetRequest>();
        auth.MapPost("/password/reset", ResetPasswordAsync).WithName("ResetPassword").WithJsonBody<ResetPasswordRequest>();
        auth.MapDelete("/users/{id:guid}", DeleteUserAsync).WithName("DeleteUser").RequireAuthorization(p => p.RequireRole(Roles.Admin));
        return auth;
    }

    /// <summary>
    /// Revokes the login (refresh token family) of the <c>refresh_token</c> in the body, and the user's access tokens
    /// issued until now: the other logins of the user get a 401 for theirs and carry on with their refresh tokens. The
    /// answer is 204 whether the token was known or not (RFC 7009 §2.2), so it tells nothing about tokens.
    /// </summary>
    internal static async Task<Results<NoContent, ValidationProblem, ProblemHttpResult>> LogoutAsync(
        HttpRequest request,
        RefreshTokenService refreshTokens,
        IdentityDbContext db,
        TokenRevocations revocations,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync<LogoutRequest>(request, cancellationToken);
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

        if (await refreshTokens.RevokeAsync(refreshToken) is { } userId
            && await db.Users.SingleOrDefaultAsync(u => u.Id == userId, CancellationToken.None) is { } user)
        {
            // Not cancellable from here on: a decided revocation must not be abandoned with the request.
            var revokedBefore = await revocations.StageAsync(user, CancellationToken.None);
            await revocations.SaveAsync(CancellationToken.None);
            await revocations.PublishAsync(user.Id, revokedBefore);
        }
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
        TokenRevocations revocations,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync<ChangePasswordRequest>(request, cancellationToken);
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
                detail: "Only a user signed in since the user's tokens were last revoked (a password change, a logout) can change the password.");
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
        var revokedBefore = await revocations.StageAsync(user, cancellationToken);
        await revocations.SaveAsync(cancellationToken);
        await refreshTokens.RevokeAllAsync(user.Id, now);
        await revocations.PublishAsync(user.Id, revokedBefore);
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
        var body = await JsonFields.ReadAsync<PasswordResetRequest>(request, cancellationToken);
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
        TokenRevocations revocations,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        var body = await JsonFields.ReadAsync<ResetPasswordRequest>(request, cancellationToken);
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
        var revokedBefore = await revocations.StageAsync(user, cancellationToken);
        await revocations.SaveAsync(cancellationToken);
        await refreshTokens.RevokeAllAsync(user.Id, now);
        await revocations.PublishAsync(user.Id, revokedBefore);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// An administrator deletes an account: the account, its logins and its pending tokens go, and its access tokens are
    /// revoked everywhere (the revocation outlives the account). 204; 404 for an unknown id; 409 for the caller's own
    /// account (an administrator cannot lock themselves out this way).
    /// </summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteUserAsync(
        Guid id,
        ClaimsPrincipal principal,
        IdentityDbContext db,
        TokenRevocations revocations,
        CancellationToken cancellationToken)
    {
        var caller = Guid.TryParse(principal.FindFirstValue(JwtRegisteredClaimNames.Sub), out var callerId)
            ? await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == callerId, cancellationToken)
            : null;
        if (caller is null || caller.Role != Roles.Admin || IsRevoked(principal, caller))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status403Forbidden,
                title: "Not a current administrator",
                detail: "Only an administrator signed in since their tokens were last revoked can delete accounts.");
        }
        if (id == callerId)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "Own account",
                detail: "An administrator cannot delete their own account.");
        }
        if (await db.Users.SingleOrDefaultAsync(u => u.Id == id, cancellationToken) is not { } user)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status404NotFound,
                title: "Unknown user",
                detail: "There is no account with this id.");
        }

        var revokedBefore = await revocations.StageAsync(user, CancellationToken.None);
        db.Users.Remove(user); // its refresh token families, reset and verification tokens go with it (cascade)
        await revocations.SaveAsync(CancellationToken.None);
        await revocations.PublishAsync(user.Id, revokedBefore);
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

using System.Security.Cryptography;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Portico.Identity.Accounts;

/// <summary>
/// Hashes and checks passwords with ASP.NET Core's <see cref="IPasswordHasher{TUser}"/> (PBKDF2-HMAC-SHA512,
/// <see cref="IterationCount"/> iterations). A login for an unknown address is checked against a dummy hash, so it
/// costs the same as a wrong password. At most <see cref="PasswordHashingOptions.MaxConcurrency"/> hashes run at once
/// and <see cref="PasswordHashingOptions.QueueLimit"/> wait, oldest first; beyond that
/// <see cref="PasswordHashingBusyException"/> is thrown, which the service answers with 503 and <c>Retry-After</c>,
/// so a flood of made-up logins cannot take every core from the service.
/// </summary>
internal sealed class AccountPasswords : IDisposable
{
    /// <summary>PBKDF2-HMAC-SHA512 iterations of a new hash (OWASP Password Storage Cheat Sheet, 2023: 210,000).</summary>
    public const int IterationCount = 210_000;

    private readonly IPasswordHasher<User> _hasher;
    private readonly ConcurrencyLimiter _limiter;
    private readonly Lazy<string> _dummyHash;

    public AccountPasswords(IPasswordHasher<User> hasher, IOptions<IdentityServiceOptions> options)
    {
        _hasher = hasher;
        var settings = options.Value.PasswordHashing;
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = settings.MaxConcurrency,
            QueueLimit = settings.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        _dummyHash = new(() => hasher.HashPassword(null!, RandomNumberGenerator.GetHexString(32)));
    }

    public async Task<string> HashAsync(User user, string password, CancellationToken cancellationToken)
    {
        using var lease = await AcquireAsync(cancellationToken);
        return _hasher.HashPassword(user, password);
    }

    /// <summary>Whether <paramref name="password"/> is the user's; does the same work when there is no user.</summary>
    public async Task<PasswordVerificationResult> VerifyAsync(User? user, string password, CancellationToken cancellationToken)
    {
        using var lease = await AcquireAsync(cancellationToken);
        if (user is null)
        {
            _hasher.VerifyHashedPassword(null!, _dummyHash.Value, password);
            return PasswordVerificationResult.Failed;
        }
        return _hasher.VerifyHashedPassword(user, user.PasswordHash, password);
    }

    public void Dispose() => _limiter.Dispose();

    private async ValueTask<RateLimitLease> AcquireAsync(CancellationToken cancellationToken)
    {
        var lease = await _limiter.AcquireAsync(1, cancellationToken);
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            throw new PasswordHashingBusyException();
        }
        return lease;
    }
}

/// <summary>Every password-hashing slot and queue place is taken: answered with 503 and <c>Retry-After</c>.</summary>
internal sealed class PasswordHashingBusyException() : Exception("Password hashing is at capacity; try again shortly.");

/// <summary>Answers <see cref="PasswordHashingBusyException"/> with 503 problem+json and <c>Retry-After</c>.</summary>
internal sealed class PasswordHashingBusyHandler(IProblemDetailsService problemDetails, IOptions<IdentityServiceOptions> options) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not PasswordHashingBusyException)
        {
            return false;
        }
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.Value.PasswordHashing.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Busy",
                Detail = "Too many password checks are in progress. Try again after the time in Retry-After.",
            },
        });
    }
}

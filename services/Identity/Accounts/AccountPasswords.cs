using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;

namespace Portico.Identity.Accounts;

/// <summary>
/// Hashes and checks passwords with ASP.NET Core's <see cref="IPasswordHasher{TUser}"/> (PBKDF2-HMAC-SHA512, <see cref="IterationCount"/> iterations). A login
/// for an unknown address is checked against a dummy hash, so it costs the same as a wrong password.
/// </summary>
internal sealed class AccountPasswords(IPasswordHasher<User> hasher)
{
    /// <summary>PBKDF2-HMAC-SHA512 iterations of a new hash (OWASP Password Storage Cheat Sheet, 2023: 210,000).</summary>
    public const int IterationCount = 210_000;

    private readonly Lazy<string> _dummyHash = new(() => hasher.HashPassword(null!, RandomNumberGenerator.GetHexString(32)));

    public string Hash(User user, string password) => hasher.HashPassword(user, password);

    /// <summary>Whether <paramref name="password"/> is the user's; does the same work when there is no user.</summary>
    public PasswordVerificationResult Verify(User? user, string password)
    {
        if (user is null)
        {
            hasher.VerifyHashedPassword(null!, _dummyHash.Value, password);
            return PasswordVerificationResult.Failed;
        }
        return hasher.VerifyHashedPassword(user, user.PasswordHash, password);
    }
}

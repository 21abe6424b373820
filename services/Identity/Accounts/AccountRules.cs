using System.Globalization;
using System.Net.Mail;

namespace Portico.Identity.Accounts;

/// <summary>What an email address, a display name and a password must look like. Each check returns an error or null.</summary>
internal static class AccountRules
{
    public const int MaxEmailLength = 254;
    public const int MaxEmailLocalPartLength = 64;
    public const int MaxNameLength = 100;
    public const int MinPasswordLength = 12;
    public const int MaxPasswordLength = 128;

    /// <summary>The unique, case-insensitive key of an address (already trimmed).</summary>
    public static string NormalizeEmail(string email) => email.ToUpperInvariant();

    public static string? CheckEmail(string email)
    {
        if (email.Length == 0)
        {
            return "email is required.";
        }
        if (email.Length > MaxEmailLength)
        {
            return $"email must be at most {MaxEmailLength} characters.";
        }

        var at = email.LastIndexOf('@');
        var wellFormed = at > 0
            && at <= MaxEmailLocalPartLength
            && email.IndexOf('@') == at
            && !email.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
            && IsDomain(email.AsSpan(at + 1))
            && MailAddress.TryCreate(email, out var parsed)
            && parsed.Address == email
            && parsed.DisplayName.Length == 0;
        return wellFormed ? null : "email must be an address like name@example.com.";
    }

    public static string? CheckName(string name)
    {
        if (name.Length == 0)
        {
            return "name is required.";
        }
        if (name.Length > MaxNameLength)
        {
            return $"name must be at most {MaxNameLength} characters.";
        }
        return name.Any(char.IsControl) ? "name must not contain control characters." : null;
    }

    public static string? CheckPassword(string password)
    {
        if (password.Length > MaxPasswordLength)
        {
            return $"password must be at most {MaxPasswordLength} characters.";
        }
        // Counted in code points, so that a password of emoji is not credited twice for each one.
        if (password.EnumerateRunes().Count() < MinPasswordLength)
        {
            return $"password must be at least {MinPasswordLength} characters.";
        }
        if (CommonPasswords.Contains(password))
        {
            return "password is too common; choose one that is not on lists of leaked passwords.";
        }
        return string.IsNullOrWhiteSpace(password) ? "password must not be blank." : null;
    }

    /// <summary>At least two dot-separated labels of letters, digits and inner hyphens (IDNs in Unicode are allowed).</summary>
    private static bool IsDomain(ReadOnlySpan<char> domain)
    {
        if (domain.Length is 0 or > 253)
        {
            return false;
        }

        var labels = 0;
        foreach (var range in domain.Split('.'))
        {
            var label = domain[range];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }
            foreach (var c in label)
            {
                if (!(char.IsLetterOrDigit(c) || c == '-' || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark))
                {
                    return false;
                }
            }
            labels++;
        }
        return labels >= 2;
    }
}

using System.Globalization;
using System.Net.Mail;
using System.Text;

namespace Portico.Identity.Accounts;

/// <summary>What an email address, a display name and a password must look like. Each check returns an error or null.</summary>
internal static class AccountRules
{
    public const int MaxEmailLength = 254;
    public const int MaxEmailLocalPartLength = 64;
    public const int MaxNameLength = 100;
    public const int MinPasswordLength = 12;
    public const int MaxPasswordLength = 128;

    /// <summary>
    /// The unique key of an address (already trimmed), so that lookalike spellings of one address are one account:
    /// NFKC (full-width and other compatibility forms become plain ones), the local part in lower case, the domain in
    /// its IDNA ASCII form (punycode) in lower case. Total: text that is not an address still gets a key.
    /// </summary>
    public static string NormalizeEmail(string email)
    {
        var normalized = NormalizeText(email) ?? email;
        var at = normalized.LastIndexOf('@');
        if (at < 0)
        {
            return normalized.ToLowerInvariant();
        }
        var domain = normalized[(at + 1)..];
        return normalized[..at].ToLowerInvariant() + "@" + (ToAsciiDomain(domain) ?? domain).ToLowerInvariant();
    }

    /// <summary>The address as it is kept and shown: trimmed and in NFKC.</summary>
    public static string DisplayEmail(string email) => NormalizeText(email) ?? email;

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
        if (NormalizeText(email) is not { } normalized)
        {
            return "email must be valid Unicode text.";
        }
        foreach (var rune in email.EnumerateRunes())
        {
            if (IsInvisibleOrDirectional(rune))
            {
                return "email must not contain invisible, zero-width, or direction-changing characters.";
            }
        }
        if (normalized.Contains('"'))
        {
            return "email must not have a quoted local part.";
        }

        var at = normalized.LastIndexOf('@');
        var wellFormed = at > 0
            && at <= MaxEmailLocalPartLength
            && normalized.IndexOf('@') == at
            && !normalized.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
            && IsDomain(normalized.AsSpan(at + 1))
            && ToAsciiDomain(normalized[(at + 1)..]) is not null
            && MailAddress.TryCreate(normalized, out var parsed)
            && parsed.Address == normalized
            && parsed.DisplayName.Length == 0;
        if (!wellFormed)
        {
            return "email must be an address like name@example.com.";
        }
        if (MixesScripts(normalized.AsSpan(0, at)))
        {
            return "email must not mix writing systems (such as Latin and Cyrillic) before the @.";
        }
        return NormalizeEmail(normalized).Length > MaxEmailLength
            ? $"email must be at most {MaxEmailLength} characters with its domain in ASCII (punycode)."
            : null;
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

    private static string? NormalizeText(string text)
    {
        try
        {
            return text.Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            return null; // lone surrogates
        }
    }

    private static string? ToAsciiDomain(string domain)
    {
        try
        {
            return new IdnMapping { UseStd3AsciiRules = true }.GetAscii(domain);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Format characters (bidi controls, zero-width, soft hyphen, BOM, tags) and the other default-ignorable code points.</summary>
    private static bool IsInvisibleOrDirectional(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.Format or UnicodeCategory.Control or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
        || rune.Value is 0x034F or 0x115F or 0x1160 or 0x17B4 or 0x17B5 or 0x3164 or 0xFFA0
        || rune.Value is >= 0x180B and <= 0x180F
        || rune.Value is >= 0xFE00 and <= 0xFE0F
        || rune.Value is >= 0xFFF0 and <= 0xFFF8
        || rune.Value is >= 0x1BCA0 and <= 0x1BCA3
        || rune.Value is >= 0xE0000 and <= 0xE0FFF;

    /// <summary>Whether the letters come from more than one script; digits, punctuation and marks belong to none.</summary>
    private static bool MixesScripts(ReadOnlySpan<char> localPart)
    {
        var seen = Script.Common;
        foreach (var rune in localPart.EnumerateRunes())
        {
            var script = ScriptOf(rune);
            if (script == Script.Common)
            {
                continue;
            }
            if (seen != Script.Common && seen != script)
            {
                return true;
            }
            seen = script;
        }
        return false;
    }

    private static Script ScriptOf(Rune rune)
    {
        if (!Rune.IsLetter(rune))
        {
            return Script.Common;
        }
        return rune.Value switch
        {
            <= 0x024F or (>= 0x0250 and <= 0x02AF) or (>= 0x1D00 and <= 0x1D7F) or (>= 0x1E00 and <= 0x1EFF)
                or (>= 0x2C60 and <= 0x2C7F) or (>= 0xA720 and <= 0xA7FF) or (>= 0xAB30 and <= 0xAB6F)
                or (>= 0xFF21 and <= 0xFF3A) or (>= 0xFF41 and <= 0xFF5A) => Script.Latin,
            (>= 0x0370 and <= 0x03FF) or (>= 0x1F00 and <= 0x1FFF) => Script.Greek,
            (>= 0x0400 and <= 0x052F) or (>= 0x1C80 and <= 0x1C8F) or (>= 0x2DE0 and <= 0x2DFF) or (>= 0xA640 and <= 0xA69F) => Script.Cyrillic,
            >= 0x0530 and <= 0x058F => Script.Armenian,
            >= 0x0590 and <= 0x05FF => Script.Hebrew,
            (>= 0x0600 and <= 0x06FF) or (>= 0x0750 and <= 0x077F) or (>= 0x08A0 and <= 0x08FF) => Script.Arabic,
            (>= 0x10A0 and <= 0x10FF) or (>= 0x1C90 and <= 0x1CBF) => Script.Georgian,
            (>= 0x13A0 and <= 0x13FF) or (>= 0xAB70 and <= 0xABBF) => Script.Cherokee,
            _ => Script.Other,
        };
    }

    /// <summary>Scripts whose letters are mistaken for one another; every other script counts as one more.</summary>
    private enum Script
    {
        Common,
        Latin,
        Greek,
        Cyrillic,
        Armenian,
        Hebrew,
        Arabic,
        Georgian,
        Cherokee,
        Other,
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

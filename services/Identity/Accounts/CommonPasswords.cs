using System.Collections.Frozen;
using System.Reflection;

namespace Portico.Identity.Accounts;

/// <summary>
/// Passwords too common to accept: the bundled list of the 10,000 most common leaked passwords
/// (<c>CommonPasswords.txt</c>, from zxcvbn's ranked list) and the words of this service's own context, compared
/// case-insensitively. A password is also refused when it is one of them with digits and symbols stuck on either
/// end (<c>Welcome@2024</c>, <c>Qwerty123456!</c>), the commonest way of meeting a length rule without choosing anew.
/// </summary>
internal static class CommonPasswords
{
    private const string ResourceName = "Portico.Identity.CommonPasswords.txt";

    /// <summary>Words an attacker of this service tries first (ASVS 2.1.7 context-specific words).</summary>
    private static readonly string[] ContextWords = ["portico", "identity", "admin", "administrator"];

    private static readonly FrozenSet<string> Passwords = Load();

    public static int Count => Passwords.Count;

    public static bool Contains(string password)
    {
        if (Passwords.Contains(password))
        {
            return true;
        }
        var core = password.AsSpan().Trim(DigitsAndSymbols.AsSpan());
        return core.Length > 0 && core.Length < password.Length && Passwords.GetAlternateLookup<ReadOnlySpan<char>>().Contains(core);
    }

    private const string DigitsAndSymbols = "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ ";

    private static FrozenSet<string> Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing.");
        using var reader = new StreamReader(stream);
        var passwords = new List<string>(ContextWords);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                passwords.Add(line);
            }
        }
        return passwords.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }
}

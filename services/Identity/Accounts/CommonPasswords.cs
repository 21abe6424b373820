using System.Collections.Frozen;
using System.Reflection;

namespace Portico.Identity.Accounts;

/// <summary>The bundled list of passwords too common to accept (<c>CommonPasswords.txt</c>), compared case-insensitively.</summary>
internal static class CommonPasswords
{
    private const string ResourceName = "Portico.Identity.CommonPasswords.txt";

    private static readonly FrozenSet<string> Passwords = Load();

    public static int Count => Passwords.Count;

    public static bool Contains(string password) => Passwords.Contains(password);

    private static FrozenSet<string> Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing.");
        using var reader = new StreamReader(stream);
        var passwords = new List<string>();
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

using System.Text.RegularExpressions;

namespace Portico.ServiceDefaults.Logging;

/// <summary>
/// The one classifier of secrets on the logging pipeline, used by the <c>ecs</c> console format and by the OTLP log
/// export (<see cref="RedactingLogProcessor"/>): a value whose name says it is a secret (an <c>Authorization</c> or
/// <c>Cookie</c> header, a password, token, client secret, session or <c>Idempotency-Key</c>) is replaced whole, and in
/// free text (messages, URLs, exception messages) the value of every query parameter so named is replaced. ASP.NET
/// Core's request lines and YARP's "Proxying to" line carry the full query string, where a client that cannot set
/// headers puts its <c>access_token</c>.
/// </summary>
public static partial class LogRedaction
{
    public const string Redacted = "[REDACTED]";

    // Substrings of names (header, query parameter, structured value) that hold secrets; matched without case.
    private static readonly string[] SecretNameParts =
        ["authorization", "cookie", "password", "passwd", "secret", "token", "idempotency", "apikey", "api_key", "api-key", "session", "signature", "credential"];

    /// <summary>Whether a value of this name is a secret wherever it appears.</summary>
    public static bool IsSecretName(string name) =>
        SecretNameParts.Any(part => name.Contains(part, StringComparison.OrdinalIgnoreCase));

    /// <summary>A structured value: the whole of it when its name is a secret's, else the secret query values in it.</summary>
    public static string RedactValue(string name, string value) => IsSecretName(name) ? Redacted : RedactText(value);

    /// <summary>Free text with the value of every secret-named query parameter (<c>?access_token=…</c>) replaced.</summary>
    public static string RedactText(string text) =>
        text.Contains('=', StringComparison.Ordinal) ? SecretQueryValue().Replace(text, Redacted) : text;

    [GeneratedRegex(@"(?<=[?&;][^=&#\s?]*(?:authorization|cookie|password|passwd|secret|token|idempotency|api_?key|api-key|session|signature|credential|code)[^=&#\s?]*=)[^&#\s]+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretQueryValue();
}

namespace Portico.Identity.Clients;

/// <summary>What a service client's id, secret and roles must look like. Each check returns an error or null.</summary>
internal static class ServiceClientRules
{
    public const int MaxClientIdLength = 64;
    public const int MinSecretLength = 32;
    public const int MaxSecretLength = 512;
    public const int MaxRoleLength = 64;

    /// <summary>Letters, digits, <c>-</c>, <c>_</c> and <c>.</c>: the id becomes the token's <c>sub</c> (<c>client:{id}</c>) and <c>name</c>.</summary>
    public static string? CheckClientId(string clientId)
    {
        if (clientId.Length is 0 or > MaxClientIdLength)
        {
            return $"a client id must be 1 to {MaxClientIdLength} characters.";
        }
        return clientId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? null
            : "a client id may contain only ASCII letters, digits, '-', '_' and '.'.";
    }

    /// <summary>Never echoes the secret.</summary>
    public static string? CheckSecret(string? secret)
    {
        if (string.IsNullOrWhiteSpace(secret))
        {
            return "Secret is required.";
        }
        if (secret.Length > MaxSecretLength)
        {
            return $"Secret must be at most {MaxSecretLength} characters.";
        }
        // Counted in code points, as passwords are.
        return secret.EnumerateRunes().Count() < MinSecretLength
            ? $"Secret must be at least {MinSecretLength} characters."
            : null;
    }

    /// <summary>No commas or spaces: the gateway forwards roles as one comma-separated header.</summary>
    public static string? CheckRole(string? role)
    {
        if (string.IsNullOrEmpty(role) || role.Length > MaxRoleLength)
        {
            return $"a role must be 1 to {MaxRoleLength} characters.";
        }
        return role.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')
            ? null
            : "a role may contain only ASCII letters, digits, '-', '_', '.' and ':'.";
    }
}

namespace Portico.ServiceDefaults.Authentication;

/// <summary>RFC 8707 resource indicators: what names a service as the audience of a token.</summary>
public static class ResourceIndicators
{
    /// <summary>
    /// RFC 8707 §2: an absolute URI (a scheme of its own, not a local path) without a fragment, at most 256 characters,
    /// e.g. <c>urn:portico:loyalty</c>.
    /// </summary>
    public static bool IsValid(string? resource) =>
        resource is { Length: > 0 and <= 256 }
        && Uri.TryCreate(resource, UriKind.Absolute, out var uri)
        && resource.StartsWith(uri.Scheme + ":", StringComparison.OrdinalIgnoreCase)
        && !resource.Contains('#', StringComparison.Ordinal)
        && !resource.Any(char.IsWhiteSpace);
}

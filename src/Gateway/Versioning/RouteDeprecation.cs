using System.Globalization;

namespace Portico.Gateway.Versioning;

/// <summary>
/// What a deprecated route answers with, read from its metadata (<see cref="VersioningMetadata"/>): the field values
/// are made once per version of the gateway file, not per request.
/// </summary>
internal sealed record RouteDeprecation(string? Deprecation, string? Sunset, string? Link)
{
    /// <summary>When the route's version was (or will be) deprecated, as read; the public OpenAPI document shows it.</summary>
    public DateTimeOffset? DeprecatedAt { get; init; }

    /// <summary>When the route's version stops answering, as read.</summary>
    public DateTimeOffset? SunsetAt { get; init; }

    /// <summary>The URI of the version that replaces it.</summary>
    public string? Successor { get; init; }

    private static readonly string[] DateFormats = ["yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"];

    /// <summary>The route's deprecation, null when it names none; each bad value is added to <paramref name="errors"/>, naming the route and key.</summary>
    public static RouteDeprecation? Read(string routeId, IReadOnlyDictionary<string, string>? metadata, ICollection<string> errors)
    {
        if (metadata is null)
        {
            return null;
        }
        var deprecated = ReadDate(routeId, metadata, VersioningMetadata.Deprecation, errors);
        var sunset = ReadDate(routeId, metadata, VersioningMetadata.Sunset, errors);
        var successor = metadata.GetValueOrDefault(VersioningMetadata.SuccessorVersion);
        if (successor is not null && !IsLinkTarget(successor))
        {
            errors.Add($"Route '{routeId}': {VersioningMetadata.SuccessorVersion} must be a path (/api/v2/products) or an absolute http(s) URI without spaces or angle brackets, not '{successor}'.");
            successor = null;
        }
        if (deprecated is { } from && sunset is { } until && until < from)
        {
            // RFC 9745 §5: a resource should not go away before it is deprecated.
            errors.Add($"Route '{routeId}': {VersioningMetadata.Sunset} ({until:O}) is earlier than {VersioningMetadata.Deprecation} ({from:O}).");
        }
        if (deprecated is null && sunset is null && successor is null)
        {
            return null;
        }
        return new RouteDeprecation(
            // RFC 9745 §2.1: an RFC 9651 Date, "@" and the seconds since the epoch.
            deprecated is { } d ? "@" + d.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) : null,
            // RFC 8594 §3: an HTTP-date (IMF-fixdate, RFC 9110 §5.6.7).
            sunset?.ToString("R", CultureInfo.InvariantCulture),
            successor is null ? null : $"<{successor}>; rel=\"successor-version\"")
        {
            DeprecatedAt = deprecated,
            SunsetAt = sunset,
            Successor = successor,
        };
    }

    private static DateTimeOffset? ReadDate(string routeId, IReadOnlyDictionary<string, string> metadata, string key, ICollection<string> errors)
    {
        if (metadata.GetValueOrDefault(key) is not { } text)
        {
            return null;
        }
        if (DateTimeOffset.TryParseExact(text.Trim(), DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            return value;
        }
        errors.Add($"Route '{routeId}': {key} must be an ISO 8601 date (2026-12-01) or date-time with an offset (2026-12-01T00:00:00Z), not '{text}'.");
        return null;
    }

    private static bool IsLinkTarget(string value) =>
        value.Length > 0
        && !value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or '"')
        && (value[0] == '/'
            ? Uri.TryCreate(value, UriKind.Relative, out _)
            : Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps));
}

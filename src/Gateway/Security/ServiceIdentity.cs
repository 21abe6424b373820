using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;

namespace Portico.Gateway.Security;

/// <summary>
/// <c>Portico:ServiceIdentity</c>: how the gateway signs in as itself (Identity's <c>client_credentials</c>
/// grant) for calls a user may not make, such as accruing points in a composition. The secret comes from the
/// environment, never from a file in the repository.
/// </summary>
public sealed record ServiceIdentityOptions
{
    public const string SectionName = "Portico:ServiceIdentity";

    [Required]
    [RegularExpression(@"^https?://[^/?#\s]+(/\S*)?$", ErrorMessage = "{0} must be an absolute http(s) URL.")]
    public string TokenUrl { get; init; } = "http://identity/api/auth/token";

    [Required(AllowEmptyStrings = false)]
    public string ClientId { get; init; } = "gateway";

    public string? ClientSecret { get; init; }
}

/// <summary>
/// The gateway's own access tokens, one per target service: each is asked for with the RFC 8707 <c>resource</c> of the
/// cluster it is for (cluster metadata <see cref="ResourceMetadataKey"/>, e.g. <c>urn:portico:loyalty</c>), so it carries
/// that one service as its audience and no other service accepts it. A cluster without that metadata gets a token asked
/// for without a resource (Identity then uses the client's only resource, or refuses). Each token is fetched when first
/// needed and again a minute before it expires; concurrent callers for one resource share one fetch.
/// </summary>
internal sealed partial class ServiceTokenSource(IHttpClientFactory httpClients, IOptions<ServiceIdentityOptions> options, TimeProvider time,
    ILogger<ServiceTokenSource> logger, IProxyStateLookup? proxy = null)
{
    public const string HttpClientName = "portico-service-identity";

    /// <summary>Cluster metadata naming the resource (RFC 8707) of the service behind the cluster.</summary>
    public const string ResourceMetadataKey = "Portico.Resource";

    // Keyed by resource ("" for none); resources come from the gateway file, so the set is bounded by it.
    private readonly ConcurrentDictionary<string, Slot> _slots = new(StringComparer.Ordinal);

    /// <summary>An <c>Authorization</c> header value for calls to <paramref name="clusterId"/>, or null with the reason when none can be had.</summary>
    public Task<(string? Authorization, string Reason)> GetForClusterAsync(string clusterId, CancellationToken cancellationToken) =>
        GetAsync(ResourceOf(clusterId), cancellationToken);

    /// <summary>The resource a cluster's metadata names, or null.</summary>
    public string? ResourceOf(string clusterId) =>
        proxy is not null && proxy.TryGetCluster(clusterId, out var cluster)
        && cluster.Model.Config.Metadata?.TryGetValue(ResourceMetadataKey, out var resource) == true && !string.IsNullOrWhiteSpace(resource)
            ? resource
            : null;

    /// <summary>An <c>Authorization</c> header value for <paramref name="resource"/> (null: none named), or null with the reason when none can be had.</summary>
    public async Task<(string? Authorization, string Reason)> GetAsync(string? resource, CancellationToken cancellationToken)
    {
        var slot = _slots.GetOrAdd(resource ?? "", static _ => new Slot());
        if (Volatile.Read(ref slot.Current) is { } current && time.GetUtcNow() < current.RenewAt)
        {
            return (current.Authorization, "");
        }
        var settings = options.Value;
        if (string.IsNullOrEmpty(settings.ClientSecret))
        {
            return (null, $"the gateway has no service identity ({ServiceIdentityOptions.SectionName}:ClientSecret is not set)");
        }
        await slot.Fetch.WaitAsync(cancellationToken);
        try
        {
            if (Volatile.Read(ref slot.Current) is { } fresh && time.GetUtcNow() < fresh.RenewAt)
            {
                return (fresh.Authorization, "");
            }
            using var response = await httpClients.CreateClient(HttpClientName).PostAsJsonAsync(settings.TokenUrl,
                new TokenRequest("client_credentials", settings.ClientId, settings.ClientSecret, resource), cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                Log.TokenRefused(logger, settings.ClientId, resource ?? "(none)", (int)response.StatusCode);
                return (null, $"Identity refused the gateway's service token for {resource ?? "no named resource"} ({(int)response.StatusCode})");
            }
            var token = await response.Content.ReadFromJsonAsync<TokenResponse>(cancellationToken);
            if (token?.AccessToken is not { Length: > 0 } accessToken)
            {
                return (null, "Identity answered without an access token");
            }
            var lifetime = TimeSpan.FromSeconds(Math.Max(0, token.ExpiresIn - 60));
            var cached = new CachedToken("Bearer " + accessToken, time.GetUtcNow() + lifetime);
            Volatile.Write(ref slot.Current, cached);
            return (cached.Authorization, "");
        }
        catch (HttpRequestException ex)
        {
            return (null, $"Identity could not be reached for a service token ({ex.HttpRequestError})");
        }
        finally
        {
            slot.Fetch.Release();
        }
    }

    private sealed class Slot
    {
        public readonly SemaphoreSlim Fetch = new(1, 1);
        public CachedToken? Current; // a reference, so readers never see half of an update
    }

    private sealed record CachedToken(string Authorization, DateTimeOffset RenewAt); // the header value, built once

    private sealed record TokenRequest(
        [property: JsonPropertyName("grant_type")] string GrantType,
        [property: JsonPropertyName("client_id")] string ClientId,
        [property: JsonPropertyName("client_secret")] string ClientSecret,
        [property: JsonPropertyName("resource"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Resource);

    private sealed record TokenResponse(
        [property: JsonPropertyName("access_token")] string? AccessToken,
        [property: JsonPropertyName("expires_in")] int ExpiresIn);

    private static partial class Log
    {
        [LoggerMessage(500, LogLevel.Warning, "Identity refused the gateway's service credentials for client {ClientId}, resource {Resource}: HTTP {Status}")]
        public static partial void TokenRefused(ILogger logger, string clientId, string resource, int status);
    }
}

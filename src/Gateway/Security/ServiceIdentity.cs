using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Portico.Gateway.Security;

/// <summary>
/// <c>Portico:ServiceIdentity</c>: how the gateway signs in as itself (Identity's <c>client_credentials</c>
/// grant) for calls a user may not make, such as accruing points in a composition. The secret comes from the
/// environment, never from a file in the repository.
/// </summary>
public sealed record ServiceIdentityOptions
{
    public const string SectionName = "Portico:ServiceIdentity";

    public string TokenUrl { get; init; } = "http://identity/api/auth/token";
    public string ClientId { get; init; } = "gateway";
    public string? ClientSecret { get; init; }
}

/// <summary>
/// The gateway's own access token, fetched when first needed and again a minute before it expires; concurrent
/// callers share one fetch.
/// </summary>
internal sealed partial class ServiceTokenSource(IHttpClientFactory httpClients, IOptions<ServiceIdentityOptions> options, TimeProvider time,
    ILogger<ServiceTokenSource> logger)
{
    public const string HttpClientName = "portico-service-identity";

    private readonly SemaphoreSlim _fetch = new(1, 1);
    private CachedToken? _current; // a reference, so readers never see half of an update

    /// <summary>An <c>Authorization</c> header value, or null with the reason when none can be had.</summary>
    public async Task<(string? Authorization, string Reason)> GetAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _current) is { } current && time.GetUtcNow() < current.RenewAt)
        {
            return (current.Authorization, "");
        }
        var settings = options.Value;
        if (string.IsNullOrEmpty(settings.ClientSecret))
        {
            return (null, $"the gateway has no service identity ({ServiceIdentityOptions.SectionName}:ClientSecret is not set)");
        }
        await _fetch.WaitAsync(cancellationToken);
        try
        {
            if (Volatile.Read(ref _current) is { } fresh && time.GetUtcNow() < fresh.RenewAt)
            {
                return (fresh.Authorization, "");
            }
            using var response = await httpClients.CreateClient(HttpClientName).PostAsJsonAsync(settings.TokenUrl,
                new TokenRequest("client_credentials", settings.ClientId, settings.ClientSecret), cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                Log.TokenRefused(logger, settings.ClientId, (int)response.StatusCode);
                return (null, $"Identity refused the gateway's service credentials ({(int)response.StatusCode})");
            }
            var token = await response.Content.ReadFromJsonAsync<TokenResponse>(cancellationToken);
            if (token?.AccessToken is not { Length: > 0 } accessToken)
            {
                return (null, "Identity answered without an access token");
            }
            var lifetime = TimeSpan.FromSeconds(Math.Max(0, token.ExpiresIn - 60));
            var cached = new CachedToken("Bearer " + accessToken, time.GetUtcNow() + lifetime);
            Volatile.Write(ref _current, cached);
            return (cached.Authorization, "");
        }
        catch (HttpRequestException ex)
        {
            return (null, $"Identity could not be reached for a service token ({ex.HttpRequestError})");
        }
        finally
        {
            _fetch.Release();
        }
    }

    private sealed record CachedToken(string Authorization, DateTimeOffset RenewAt); // the header value, built once

    private sealed record TokenRequest(
        [property: JsonPropertyName("grant_type")] string GrantType,
        [property: JsonPropertyName("client_id")] string ClientId,
        [property: JsonPropertyName("client_secret")] string ClientSecret);

    private sealed record TokenResponse(
        [property: JsonPropertyName("access_token")] string? AccessToken,
        [property: JsonPropertyName("expires_in")] int ExpiresIn);

    private static partial class Log
    {
        [LoggerMessage(500, LogLevel.Warning, "Identity refused the gateway's service credentials for client {ClientId}: HTTP {Status}")]
        public static partial void TokenRefused(ILogger logger, string clientId, int status);
    }
}

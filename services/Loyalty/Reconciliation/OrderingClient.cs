using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace Portico.Loyalty.Reconciliation;

/// <summary>An order as Ordering's <c>/internal/orders</c> lists it.</summary>
public sealed record OrderingOrder(Guid Id, string UserId, string Status, long Total, DateTimeOffset CreatedAt, DateTimeOffset ChangedAt)
{
    public bool IsCancelled => string.Equals(Status, "Cancelled", StringComparison.OrdinalIgnoreCase);

    public bool IsPlaced => string.Equals(Status, "Placed", StringComparison.OrdinalIgnoreCase);
}

public sealed record OrderingOrderPage(IReadOnlyList<OrderingOrder> Items, string? NextPageToken);

/// <summary>Ordering could not be asked (unreachable, refused the token, answered nonsense): the pass stops and tries again next time.</summary>
public sealed class OrderingUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Reads Ordering's orders as the service client <c>Loyalty:Reconciler:ClientId</c>.</summary>
public sealed class OrderingClient(HttpClient http, ServiceTokenSource tokens)
{
    public const string HttpClientName = "loyalty-ordering";

    /// <summary>One page of the orders changed after <paramref name="changedSince"/>, oldest change first.</summary>
    public Task<OrderingOrderPage> ListChangedAsync(DateTimeOffset changedSince, int pageSize, string? pageToken, CancellationToken cancellationToken)
    {
        var query = string.Create(CultureInfo.InvariantCulture, $"internal/orders?changedSince={Uri.EscapeDataString(changedSince.UtcDateTime.ToString("O", CultureInfo.InvariantCulture))}&pageSize={pageSize}");
        if (pageToken is not null)
        {
            query += "&pageToken=" + Uri.EscapeDataString(pageToken);
        }
        return GetAsync(query, cancellationToken);
    }

    /// <summary>Those of <paramref name="ids"/> (at most 100) that exist in Ordering.</summary>
    public async Task<IReadOnlyList<OrderingOrder>> GetAsync(IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken) =>
        ids.Count == 0 ? [] : (await GetAsync("internal/orders?" + string.Join('&', ids.Select(id => $"id={id}")), cancellationToken)).Items;

    private async Task<OrderingOrderPage> GetAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await tokens.GetAsync(cancellationToken));
            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new OrderingUnavailableException($"Ordering answered {(int)response.StatusCode} to {path.Split('?')[0]}.");
            }
            return await response.Content.ReadFromJsonAsync(ReconcilerJsonContext.Default.OrderingOrderPage, cancellationToken)
                ?? throw new OrderingUnavailableException("Ordering answered an empty page.");
        }
        catch (Exception e) when (e is HttpRequestException or System.Text.Json.JsonException or NotSupportedException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new OrderingUnavailableException($"Ordering could not be read: {e.Message}", e);
        }
    }
}

/// <summary>
/// Loyalty's own access token from Identity's <c>client_credentials</c> grant, fetched when first needed and again a
/// minute before it expires; concurrent callers share one fetch.
/// </summary>
public sealed class ServiceTokenSource(IHttpClientFactory httpClients, IOptions<ReconcilerOptions> options, TimeProvider time) : IDisposable
{
    public const string HttpClientName = "loyalty-service-identity";

    private readonly SemaphoreSlim _fetch = new(1, 1);
    private (string Token, DateTimeOffset RenewAt)? _current;

    /// <exception cref="OrderingUnavailableException">No token could be had.</exception>
    public async Task<string> GetAsync(CancellationToken cancellationToken)
    {
        await _fetch.WaitAsync(cancellationToken);
        try
        {
            if (_current is { } current && time.GetUtcNow() < current.RenewAt)
            {
                return current.Token;
            }
            var settings = options.Value;
            if (string.IsNullOrEmpty(settings.ClientSecret))
            {
                throw new OrderingUnavailableException($"Loyalty has no service identity ({ReconcilerOptions.SectionName}:ClientSecret is not set).");
            }
            using var response = await httpClients.CreateClient(HttpClientName).PostAsJsonAsync(settings.TokenUrl,
                new TokenRequest("client_credentials", settings.ClientId, settings.ClientSecret), ReconcilerJsonContext.Default.TokenRequest, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new OrderingUnavailableException($"Identity refused Loyalty's service credentials ({(int)response.StatusCode}).");
            }
            var token = await response.Content.ReadFromJsonAsync(ReconcilerJsonContext.Default.TokenResponse, cancellationToken);
            if (token?.AccessToken is not { Length: > 0 } accessToken)
            {
                throw new OrderingUnavailableException("Identity answered without an access token.");
            }
            _current = (accessToken, time.GetUtcNow() + TimeSpan.FromSeconds(Math.Max(0, token.ExpiresIn - 60)));
            return accessToken;
        }
        catch (HttpRequestException e)
        {
            throw new OrderingUnavailableException($"Identity could not be reached for a service token ({e.HttpRequestError}).", e);
        }
        finally
        {
            _fetch.Release();
        }
    }

    public void Dispose() => _fetch.Dispose();
}

public sealed record TokenRequest(
    [property: JsonPropertyName("grant_type")] string GrantType,
    [property: JsonPropertyName("client_id")] string ClientId,
    [property: JsonPropertyName("client_secret")] string ClientSecret);

public sealed record TokenResponse(
    [property: JsonPropertyName("access_token")] string? AccessToken,
    [property: JsonPropertyName("expires_in")] int ExpiresIn);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(OrderingOrderPage))]
[JsonSerializable(typeof(TokenRequest))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(ReconcileReport))]
internal sealed partial class ReconcilerJsonContext : JsonSerializerContext;

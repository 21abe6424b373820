using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Polly;

namespace Portico.Ordering.Catalog;

/// <summary>A product as Catalog describes it (<c>GET /api/products/{id}</c>); only what an order needs.</summary>
public sealed record CatalogProduct(int Id, string Name, long Price);

/// <summary>Catalog could not answer: not reachable, timed out, a 5xx, its circuit open, or an answer that makes no sense.</summary>
public sealed class CatalogUnavailableException(string message, Exception? innerException = null) : Exception(message, innerException);

/// <summary>
/// Catalog over HTTP, through the typed client named <see cref="HttpClientName"/> with its base address from
/// <c>Ordering:CatalogUrl</c>, service discovery and the standard resilience handler.
/// </summary>
public sealed class CatalogClient(HttpClient http)
{
    public const string HttpClientName = "catalog";

    /// <summary>How many product look-ups of one order run at once.</summary>
    public const int MaxConcurrentLookups = 8;

    private static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web);

    /// <summary>The product, or null when Catalog says it does not exist (404).</summary>
    /// <exception cref="CatalogUnavailableException">Catalog could not answer.</exception>
    public async Task<CatalogProduct?> GetProductAsync(int id, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync($"api/products/{id}", cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new CatalogUnavailableException($"Catalog answered {(int)response.StatusCode} for product {id}.");
            }
            var product = await response.Content.ReadFromJsonAsync<CatalogProduct>(SerializerOptions, cancellationToken);
            return product is { Name: not null } && product.Id == id && product.Price >= 0
                ? product
                : throw new CatalogUnavailableException($"Catalog's answer for product {id} is not a product.");
        }
        catch (Exception e) when (e is HttpRequestException or ExecutionRejectedException or JsonException or NotSupportedException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new CatalogUnavailableException($"Catalog could not be asked for product {id}: {e.Message}", e);
        }
    }

    /// <summary>Looks up every id, a few at a time; ids Catalog does not know map to null.</summary>
    /// <exception cref="CatalogUnavailableException">Catalog could not answer for one of them.</exception>
    public async Task<IReadOnlyDictionary<int, CatalogProduct?>> GetProductsAsync(IEnumerable<int> ids, CancellationToken cancellationToken)
    {
        var products = new ConcurrentDictionary<int, CatalogProduct?>();
        await Parallel.ForEachAsync(ids.Distinct(), new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentLookups, CancellationToken = cancellationToken },
            async (id, token) => products[id] = await GetProductAsync(id, token));
        return products;
    }
}

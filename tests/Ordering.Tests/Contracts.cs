using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Portico.Ordering.Tests;

// The wire contract as a client sees it, written out independently of the service's types.
public sealed record OrderDto(Guid Id, string Status, List<OrderLineDto> Items, long Total, DateTimeOffset CreatedAt, string? CancellationReason = null);

public sealed record OrderLineDto(int ProductId, string ProductName, long UnitPrice, int Quantity, long LineTotal);

public sealed record OrderPageDto(List<OrderDto> Items, int Page, int PageSize, int TotalCount, int TotalPages);

public sealed record ProductDto(int Id, string Name, long Price);

public sealed record ProblemDto(string? Type, string? Title, int? Status, string? Detail, Dictionary<string, string[]>? Errors);

internal static class OrderingHttp
{
    public static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The JSON body of an order of <paramref name="lines"/> (product id, quantity).</summary>
    public static string OrderBody(params (int ProductId, int Quantity)[] lines) =>
        JsonSerializer.Serialize(new { items = lines.Select(l => new { productId = l.ProductId, quantity = l.Quantity }) });

    /// <summary>POSTs <paramref name="json"/> to <c>/api/orders</c> as JSON, with the idempotency key when given.</summary>
    public static Task<HttpResponseMessage> PostOrderAsync(this HttpClient client, string json, string? idempotencyKey = null, string mediaType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "api/orders") { Content = new StringContent(json, Encoding.UTF8, mediaType) };
        if (idempotencyKey is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", idempotencyKey);
        }
        return client.SendAsync(request, Ct);
    }

    /// <summary>Places an order that must succeed and returns it.</summary>
    public static async Task<OrderDto> PlaceAsync(this HttpClient client, params (int ProductId, int Quantity)[] lines)
    {
        using var response = await client.PostOrderAsync(OrderBody(lines));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;
    }

    public static async Task<ProductDto> GetProductAsync(this HttpClient catalog, int id) =>
        (await catalog.GetFromJsonAsync<ProductDto>($"api/products/{id}", Web, Ct))!;

    /// <summary>Asserts a problem+json answer with the given status and returns its body.</summary>
    public static async Task<ProblemDto> ReadProblemAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<ProblemDto>(Web, Ct))!;
        Assert.Equal((int)status, problem.Status);
        return problem;
    }
}

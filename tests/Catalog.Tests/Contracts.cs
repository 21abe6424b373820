using System.Net.Http.Json;
using System.Text.Json;

namespace Portico.Catalog.Tests;

// The wire contract as a client sees it, written out independently of the service's types.
public sealed record ProductDto(int Id, string Name, string NameKo, string Description, long Price, int Stock, bool Featured);

public sealed record ProductPageDto(List<ProductDto> Items, int Page, int PageSize, int TotalCount, int TotalPages);

public sealed record ProblemDto(string? Type, string? Title, int? Status, string? Detail, Dictionary<string, string[]>? Errors);

internal static class HttpClientExtensions
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public static async Task<ProductPageDto> GetPageAsync(this HttpClient client, string query)
    {
        using var response = await client.GetAsync("api/products" + query, TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<ProductPageDto>(Web, TestContext.Current.CancellationToken))!;
    }

    /// <summary>Asserts a problem+json answer with the given status and returns its body.</summary>
    public static async Task<ProblemDto> ReadProblemAsync(this HttpResponseMessage response, System.Net.HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<ProblemDto>(Web, TestContext.Current.CancellationToken))!;
        Assert.Equal((int)status, problem.Status);
        return problem;
    }
}

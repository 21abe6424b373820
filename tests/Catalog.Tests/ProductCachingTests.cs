using System.Net;
using System.Net.Http.Headers;

namespace Portico.Catalog.Tests;

/// <summary>Product answers are cacheable by a shared cache (RFC 9111) and can be revalidated by ETag (RFC 9110 §13.1.2).</summary>
public sealed class ProductCachingTests(CatalogFixture fixture) : IClassFixture<CatalogFixture>
{
    private readonly HttpClient _client = fixture.Client;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("api/products/1")]
    [InlineData("api/products?pageSize=5")]
    public async Task ProductGet_IsPublicWithMaxAgeAndETag_AndItsETagGets304(string path)
    {
        using var first = await _client.GetAsync(path, Ct);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.True(first.Headers.CacheControl is { Public: true, MaxAge.TotalSeconds: 30 }, first.Headers.CacheControl?.ToString());
        var etag = Assert.IsType<EntityTagHeaderValue>(first.Headers.ETag);
        Assert.False(etag.IsWeak);
        Assert.Equal("application/json", first.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("{", await first.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);

        using var conditional = new HttpRequestMessage(HttpMethod.Get, path);
        conditional.Headers.IfNoneMatch.Add(etag);
        using var notModified = await _client.SendAsync(conditional, Ct);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(etag, notModified.Headers.ETag);
        Assert.Empty(await notModified.Content.ReadAsByteArrayAsync(Ct));

        using var other = new HttpRequestMessage(HttpMethod.Get, path);
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"something-else\""));
        using var changed = await _client.SendAsync(other, Ct);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
    }

    [Fact]
    public async Task MissingProduct_IsNotMadeCacheable()
    {
        using var response = await _client.GetAsync("api/products/999999", Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(response.Headers.ETag);
        Assert.False(response.Headers.CacheControl?.Public ?? false);
    }
}

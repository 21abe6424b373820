using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Portico.Catalog.Tests;

public sealed record MoneyDto(long Amount, string Currency);

public sealed record ProductV2Dto(int Id, string Name, string NameKo, string Description, MoneyDto Price, int Stock, bool Featured);

public sealed record CursorPageDto(List<ProductV2Dto> Items, string? NextCursor);

/// <summary>Version 2 of the product list beside version 1: prices with their currency, cursor paging.</summary>
public sealed class ProductsApiV2Tests(CatalogFixture fixture) : IClassFixture<CatalogFixture>
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<CursorPageDto> PageAsync(string query)
    {
        using var response = await fixture.Client.GetAsync("api/v2/products" + query, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<CursorPageDto>(Web, Ct))!;
    }

    [Fact]
    public async Task CursorPages_WalkEveryProductOnce_InIdOrder_WithTheSamePricesAsV1InKrw()
    {
        var v1 = await fixture.Client.GetPageAsync("?pageSize=100");

        var seen = new List<ProductV2Dto>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await PageAsync("?limit=7" + (cursor is null ? "" : "&cursor=" + cursor));
            Assert.InRange(page.Items.Count, 1, 7);
            seen.AddRange(page.Items);
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null && pages < 100);

        Assert.Null(cursor);
        Assert.Equal(v1.Items.Select(p => p.Id), seen.Select(p => p.Id));
        Assert.Equal(v1.Items.Select(p => p.Price), seen.Select(p => p.Price.Amount));
        Assert.All(seen, p => Assert.Equal("KRW", p.Price.Currency));
        Assert.Equal((v1.TotalCount + 6) / 7, pages);
    }

    [Fact]
    public async Task Product_HasPriceAsAnObjectWithCurrency()
    {
        using var document = JsonDocument.Parse(await fixture.Client.GetStringAsync("api/v2/products/1", Ct));

        var price = document.RootElement.GetProperty("price");
        Assert.Equal(JsonValueKind.Object, price.ValueKind);
        Assert.Equal(["amount", "currency"], price.EnumerateObject().Select(p => p.Name));
        Assert.Equal("KRW", price.GetProperty("currency").GetString());
        Assert.Equal(["items", "nextCursor"], JsonDocument.Parse(await fixture.Client.GetStringAsync("api/v2/products?limit=1", Ct)).RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Filters_AreThoseOfV1()
    {
        var v1 = await fixture.Client.GetPageAsync("?featured=true&pageSize=100");
        var v2 = await PageAsync("?featured=true&limit=100");

        Assert.Equal(v1.Items.Select(p => p.Id), v2.Items.Select(p => p.Id));
        Assert.Null(v2.NextCursor);
    }

    [Theory]
    [InlineData("?cursor=not-a-cursor", "cursor")]
    [InlineData("?cursor=YWZ0ZXI6LTE", "cursor")] // "after:-1"
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=101", "limit")]
    [InlineData("?limit=ten", "limit")]
    public async Task BadQuery_Is400ProblemNamingTheParameter(string query, string parameter)
    {
        using var response = await fixture.Client.GetAsync("api/v2/products" + query, Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal([parameter], problem.Errors!.Keys);
    }

    [Fact]
    public async Task UnknownProduct_Is404Problem()
    {
        using var response = await fixture.Client.GetAsync("api/v2/products/999999", Ct);

        await response.ReadProblemAsync(HttpStatusCode.NotFound);
    }
}

using System.Net;
using System.Text.Json;

namespace Portico.Catalog.Tests;

public sealed class ProductsApiTests(CatalogFixture fixture) : IClassFixture<CatalogFixture>
{
    private readonly HttpClient _client = fixture.Client;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task GetProducts_FreshDatabase_HasAtLeastFiftySeededProductsWithKoreanAndEnglishNames()
    {
        var page = await _client.GetPageAsync("?pageSize=100");

        Assert.True(page.TotalCount >= 50, $"expected at least 50 products, got {page.TotalCount}");
        Assert.Equal(page.TotalCount, page.Items.Count);
        Assert.All(page.Items, p =>
        {
            Assert.False(string.IsNullOrWhiteSpace(p.Name));
            Assert.Contains(p.NameKo, c => c is >= '\uAC00' and <= '\uD7A3'); // Hangul syllables
            Assert.False(string.IsNullOrWhiteSpace(p.Description));
            Assert.True(p.Price > 0);
            Assert.True(p.Stock >= 0);
        });
        Assert.Contains(page.Items, p => p is { Name: "Wireless Keyboard", NameKo: "무선 키보드" });
        Assert.InRange(page.Items.Count(p => p.Featured), 2, page.Items.Count - 1);
    }

    [Fact]
    public async Task GetProducts_Json_IsCamelCase()
    {
        var json = await _client.GetStringAsync("api/products?pageSize=1", Ct);

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(["items", "page", "pageSize", "totalCount", "totalPages"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(
            ["id", "name", "nameKo", "description", "price", "stock", "featured"],
            root.GetProperty("items")[0].EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task GetProducts_NoQuery_ReturnsFirstPageOfTwenty()
    {
        var page = await _client.GetPageAsync("");

        Assert.Equal(1, page.Page);
        Assert.Equal(20, page.PageSize);
        Assert.Equal(20, page.Items.Count);
        Assert.Equal((page.TotalCount + 19) / 20, page.TotalPages);
    }

    [Fact]
    public async Task GetProducts_SearchInKorean_ReturnsProductsWhoseKoreanNameMatches()
    {
        var page = await _client.GetPageAsync("?search=" + Uri.EscapeDataString("키보드"));

        Assert.True(page.TotalCount >= 2);
        Assert.All(page.Items, p => Assert.Contains("키보드", p.NameKo, StringComparison.Ordinal));
        Assert.Contains(page.Items, p => p.Name == "Mechanical Keyboard");
    }

    [Fact]
    public async Task GetProducts_SearchInEnglishWithOtherCase_FindsTheSameProductsAsKorean()
    {
        var english = await _client.GetPageAsync("?search=kEyBoArD");
        var korean = await _client.GetPageAsync("?search=" + Uri.EscapeDataString("키보드"));

        Assert.NotEmpty(english.Items);
        Assert.All(english.Items, p => Assert.Contains("keyboard", p.Name, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(korean.Items.Select(p => p.Id), english.Items.Select(p => p.Id));
    }

    [Fact]
    public async Task GetProducts_SearchWithDecomposedHangul_MatchesComposedNames()
    {
        var decomposed = "마우스".Normalize(System.Text.NormalizationForm.FormD);

        var page = await _client.GetPageAsync("?search=" + Uri.EscapeDataString(decomposed));

        Assert.Contains(page.Items, p => p.Name == "Wireless Mouse");
    }

    [Fact]
    public async Task GetProducts_SearchWithoutMatch_ReturnsEmptyPage()
    {
        var page = await _client.GetPageAsync("?search=" + Uri.EscapeDataString("no such thing 없음"));

        Assert.Empty(page.Items);
        Assert.Equal(0, page.TotalCount);
        Assert.Equal(0, page.TotalPages);
    }

    [Fact]
    public async Task GetProducts_SearchWithLikeWildcards_MatchesThemLiterally()
    {
        var page = await _client.GetPageAsync("?search=" + Uri.EscapeDataString("%_"));

        Assert.Equal(0, page.TotalCount);
    }

    [Fact]
    public async Task GetProducts_SecondPage_ReportsMetadataAndContinuesInIdOrder()
    {
        var first = await _client.GetPageAsync("?page=1&pageSize=7");
        var second = await _client.GetPageAsync("?page=2&pageSize=7");

        Assert.Equal(2, second.Page);
        Assert.Equal(7, second.PageSize);
        Assert.Equal(7, second.Items.Count);
        Assert.Equal(first.TotalCount, second.TotalCount);
        Assert.Equal((int)Math.Ceiling(second.TotalCount / 7.0), second.TotalPages);
        Assert.True(first.Items[^1].Id < second.Items[0].Id);
    }

    [Fact]
    public async Task GetProducts_AllPages_ListEveryProductOnceInIdOrder()
    {
        var all = await _client.GetPageAsync("?pageSize=100");

        var paged = new List<int>();
        var first = await _client.GetPageAsync("?pageSize=9");
        for (var page = 1; page <= first.TotalPages; page++)
        {
            paged.AddRange((await _client.GetPageAsync($"?page={page}&pageSize=9")).Items.Select(p => p.Id));
        }

        Assert.Equal(all.Items.Select(p => p.Id), paged);
        Assert.Equal(paged.Order(), paged);
    }

    [Fact]
    public async Task GetProducts_PageBeyondTheLast_ReturnsNoItemsButTheTotals()
    {
        var page = await _client.GetPageAsync("?page=1000000&pageSize=100");

        Assert.Empty(page.Items);
        Assert.Equal(1000000, page.Page);
        Assert.True(page.TotalCount >= 50);
    }

    [Fact]
    public async Task GetProducts_FeaturedTrue_ReturnsOnlyFeaturedProducts()
    {
        var featured = await _client.GetPageAsync("?featured=true&pageSize=100");
        var all = await _client.GetPageAsync("?pageSize=100");

        Assert.NotEmpty(featured.Items);
        Assert.All(featured.Items, p => Assert.True(p.Featured));
        Assert.Equal(all.Items.Count(p => p.Featured), featured.TotalCount);
    }

    [Theory]
    [InlineData("?page=0", "page")]
    [InlineData("?page=-1", "page")]
    [InlineData("?page=abc", "page")]
    [InlineData("?page=1.5", "page")]
    [InlineData("?page=99999999999", "page")]
    [InlineData("?pageSize=0", "pageSize")]
    [InlineData("?pageSize=-5", "pageSize")]
    [InlineData("?pageSize=101", "pageSize")]
    [InlineData("?pageSize=ten", "pageSize")]
    [InlineData("?featured=yes", "featured")]
    public async Task GetProducts_BadQueryParameter_Returns400ProblemNamingIt(string query, string parameter)
    {
        using var response = await _client.GetAsync("api/products" + query, Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.NotNull(problem.Errors);
        Assert.Equal([parameter], problem.Errors.Keys);
        Assert.Contains(parameter, problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetProducts_SeveralBadParameters_Returns400ProblemNamingEach()
    {
        using var response = await _client.GetAsync("api/products?page=x&pageSize=1000", Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal(["page", "pageSize"], problem.Errors!.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task GetProductById_ExistingId_ReturnsTheProduct()
    {
        var listed = (await _client.GetPageAsync("?page=2&pageSize=5")).Items[0];

        using var response = await _client.GetAsync($"api/products/{listed.Id}", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var product = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<ProductDto>(response.Content, Ct);
        Assert.Equal(listed, product);
    }

    [Fact]
    public async Task GetProductById_UnknownId_Returns404Problem()
    {
        using var response = await _client.GetAsync("api/products/987654", Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.NotFound);
        Assert.Contains("987654", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetProductById_NonNumericId_Returns404Problem()
    {
        using var response = await _client.GetAsync("api/products/abc", Ct);

        await response.ReadProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task HealthReady_DatabaseReachable_ReturnsHealthy()
    {
        using var response = await _client.GetAsync("health/ready", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(Ct));
    }
}

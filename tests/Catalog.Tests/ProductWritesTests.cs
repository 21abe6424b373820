using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

/// <summary>
/// The admin's write API: admin role only, problem+json naming the field on bad input, and each change published as
/// <c>ProductChanged.v1</c> (which purges the gateway's cache) and visible in the product's ETag.
/// </summary>
/// <remarks>The tests share one Catalog; each changes products of its own.</remarks>
public abstract class ProductWritesTests(ProductWritesTests.Fixture fixture)
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly CatalogPeer _peer = fixture.Peer;
    private readonly HttpClient _admin = fixture.ClientWith(["admin"]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Catalog with a stand-in Identity serving the key set of <see cref="Tokens"/>.</summary>
    public class Fixture : IAsyncLifetime
    {
        private TestBackend _identity = null!;

        protected virtual DatabaseEngine Engine => DatabaseEngine.Sqlite;

        public TestTokenIssuer Tokens { get; } = new();

        public CatalogPeer Peer { get; private set; } = null!;

        public async ValueTask InitializeAsync()
        {
            if (!ServiceTestDatabase.IsAvailable(Engine))
            {
                return; // PostgreSQL is not configured: nothing starts, and the tests skip (PostgresTestDatabase.Required).
            }
            _identity = await TestBackend.StartAsync("identity", app =>
                app.MapGet("/.well-known/jwks.json", () => Results.Text(Tokens.JwksJson, "application/json")));
            Peer = await CatalogPeer.StartAsync(new Dictionary<string, string?>
            {
                ["Portico:Jwt:JwksUrl"] = new Uri(_identity.Address, "/.well-known/jwks.json").ToString(),
            }, Engine);
        }

        public HttpClient ClientWith(string[] roles)
        {
            var client = Peer.Catalog.CreateHttpClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken("someone", roles));
            return client;
        }

        public async ValueTask DisposeAsync()
        {
            if (Peer is not null)
            {
                await Peer.DisposeAsync();
            }
            if (_identity is not null)
            {
                await _identity.DisposeAsync();
            }
        }
    }

    /// <summary>The same with Catalog's database on PostgreSQL.</summary>
    public sealed class PostgresFixture : Fixture
    {
        protected override DatabaseEngine Engine => DatabaseEngine.Postgres;
    }

    [Fact]
    public async Task Create_AsAdmin_Is201WithTheProduct_ReadableAndPublishedAsProductChanged()
    {
        using var response = await _admin.PostAsync("api/products", Json(Body(name: "Pottery Mug")), Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await response.Content.ReadFromJsonAsync<ProductDto>(Web, Ct))!;
        Assert.Equal(("Pottery Mug", "도자기 머그", 21_000L, 40, true), (created.Name, created.NameKo, created.Price, created.Stock, created.Featured));
        Assert.Equal($"/api/products/{created.Id}", response.Headers.Location?.OriginalString);
        Assert.False(response.Headers.CacheControl?.Public ?? false);
        using var anonymous = _peer.Catalog.CreateHttpClient();
        Assert.Equal(created, await anonymous.GetFromJsonAsync<ProductDto>($"api/products/{created.Id}", Web, Ct));
        await Poll.UntilAsync(() => _peer.ProductChanges.Any(c => c.ProductId == created.Id), "ProductChanged for the new product");
    }

    [Fact]
    public async Task Update_AsAdmin_ChangesTheProductAndItsETag_AndPublishesProductChanged()
    {
        using var anonymous = _peer.Catalog.CreateHttpClient();
        using var before = await anonymous.GetAsync("api/products/7", Ct);
        var etag = before.Headers.ETag!;
        var original = (await before.Content.ReadFromJsonAsync<ProductDto>(Web, Ct))!;

        using var response = await _admin.PutAsync("api/products/7",
            Json(Body(name: original.Name, nameKo: original.NameKo, price: original.Price + 1000, stock: original.Stock + 5)), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var after = await anonymous.GetAsync("api/products/7", Ct);
        var updated = (await after.Content.ReadFromJsonAsync<ProductDto>(Web, Ct))!;
        Assert.Equal((original.Price + 1000, original.Stock + 5), (updated.Price, updated.Stock));
        Assert.NotEqual(etag, after.Headers.ETag);
        Assert.Equal(after.Headers.ETag, response.Headers.ETag);
        await Poll.UntilAsync(() => _peer.ProductChanges.Any(c => c.ProductId == 7), "ProductChanged for product 7");
    }

    [Fact]
    public async Task Update_WithAnOutdatedIfMatch_Is412_AndChangesNothing()
    {
        using var anonymous = _peer.Catalog.CreateHttpClient();
        using var before = await anonymous.GetAsync("api/products/9", Ct);
        var original = (await before.Content.ReadFromJsonAsync<ProductDto>(Web, Ct))!;
        var etag = before.Headers.ETag!;
        // Stock moves with an order after the admin read the product.
        var order = Guid.NewGuid();
        await _peer.PublishAsync(CatalogPeer.Placed(order, (9, 1)), Guid.NewGuid());
        await Poll.UntilAsync(async () => await _peer.StockOfAsync(9) == original.Stock - 1, "the order to take stock");

        using var stale = new HttpRequestMessage(HttpMethod.Put, "api/products/9") { Content = Json(Body(name: original.Name, stock: 500)) };
        stale.Headers.IfMatch.Add(etag);
        using var rejected = await _admin.SendAsync(stale, Ct);
        await rejected.ReadProblemAsync(HttpStatusCode.PreconditionFailed);
        Assert.Equal(original.Stock - 1, await _peer.StockOfAsync(9));

        using var fresh = await anonymous.GetAsync("api/products/9", Ct);
        using var current = new HttpRequestMessage(HttpMethod.Put, "api/products/9") { Content = Json(Body(name: original.Name, stock: 500)) };
        current.Headers.IfMatch.Add(fresh.Headers.ETag!);
        using var accepted = await _admin.SendAsync(current, Ct);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal(500, await _peer.StockOfAsync(9));
    }

    [Fact]
    public async Task Writes_WithoutAToken_Are401_AndForACustomer_403()
    {
        using var anonymous = _peer.Catalog.CreateHttpClient();
        using var customer = fixture.ClientWith(["user"]);

        using var noToken = await anonymous.PostAsync("api/products", Json(Body(name: "Sneaky")), Ct);
        using var forbidden = await customer.PostAsync("api/products", Json(Body(name: "Sneaky")), Ct);
        using var forbiddenPut = await customer.PutAsync("api/products/1", Json(Body(name: "Sneaky")), Ct);
        using var deadLetters = await customer.GetAsync("admin/messaging/dead-letters/catalog", Ct);

        await noToken.ReadProblemAsync(HttpStatusCode.Unauthorized);
        await forbidden.ReadProblemAsync(HttpStatusCode.Forbidden);
        await forbiddenPut.ReadProblemAsync(HttpStatusCode.Forbidden);
        await deadLetters.ReadProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(0, (await anonymous.GetPageAsync("?search=Sneaky")).TotalCount);
    }

    [Theory]
    [InlineData("""{"nameKo":"키","price":1,"stock":1}""", "name")]
    [InlineData("""{"name":"  ","nameKo":"키","price":1,"stock":1}""", "name")]
    [InlineData("""{"name":"A","price":1,"stock":1}""", "nameKo")]
    [InlineData("""{"name":"A","nameKo":"키","price":-1,"stock":1}""", "price")]
    [InlineData("""{"name":"A","nameKo":"키","price":"1000","stock":1}""", "price")]
    [InlineData("""{"name":"A","nameKo":"키","price":1.5,"stock":1}""", "price")]
    [InlineData("""{"name":"A","nameKo":"키","price":1}""", "stock")]
    [InlineData("""{"name":"A","nameKo":"키","price":1,"stock":-3}""", "stock")]
    [InlineData("""{"name":"A","nameKo":"키","price":1,"stock":1,"featured":"yes"}""", "featured")]
    [InlineData("""{"name":"A","nameKo":"키","price":1,"stock":1,"colour":"red"}""", "colour")]
    [InlineData("""{"name":"A","nameKo":"키","price":1,"stock":1,"description":7}""", "description")]
    [InlineData("""[1,2]""", "body")]
    [InlineData("""{"name":"A",""", "body")]
    public async Task Create_BadBody_Is400NamingTheField_AndCreatesNothing(string json, string field)
    {
        var before = (await _peer.Catalog.CreateHttpClient().GetPageAsync("?pageSize=1")).TotalCount;

        using var response = await _admin.PostAsync("api/products", new StringContent(json, Encoding.UTF8, "application/json"), Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.Errors?.ContainsKey(field), $"expected an error for '{field}', got: {string.Join(", ", problem.Errors?.Keys.ToArray() ?? [])}");
        Assert.Equal(before, (await _peer.Catalog.CreateHttpClient().GetPageAsync("?pageSize=1")).TotalCount);
    }

    [Fact]
    public async Task Update_BadBody_Is400NamingTheField_AndLeavesTheProduct()
    {
        var stock = await _peer.StockOfAsync(10);

        using var response = await _admin.PutAsync("api/products/10", new StringContent("""{"name":"X","nameKo":"엑스","price":1,"stock":99999999999}""", Encoding.UTF8, "application/json"), Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal(["stock"], problem.Errors!.Keys);
        Assert.Equal(stock, await _peer.StockOfAsync(10));
    }

    [Fact]
    public async Task Create_NameOfAnotherProduct_Is409NamingName()
    {
        using var response = await _admin.PostAsync("api/products", Json(Body(name: "Wireless Keyboard")), Ct);

        var problem = await response.ReadProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal(["name"], problem.Errors!.Keys);
    }

    [Fact]
    public async Task Update_UnknownProduct_Is404_AndNotJson_Is415()
    {
        using var missing = await _admin.PutAsync("api/products/999999", Json(Body(name: "Ghost")), Ct);
        using var text = await _admin.PostAsync("api/products", new StringContent("name=A", Encoding.UTF8, "text/plain"), Ct);

        await missing.ReadProblemAsync(HttpStatusCode.NotFound);
        await text.ReadProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    private static object Body(string name, string nameKo = "도자기 머그", long price = 21_000, int stock = 40) =>
        new { name, nameKo, description = "Hand-thrown stoneware, 350 ml.", price, stock, featured = true };

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
}

public sealed class ProductWritesTestsOnSqlite(ProductWritesTests.Fixture fixture) : ProductWritesTests(fixture), IClassFixture<ProductWritesTests.Fixture>;

public sealed class ProductWritesTestsOnPostgres(ProductWritesTests.PostgresFixture fixture) : ProductWritesTests(PostgresTestDatabase.Required(fixture)), IClassFixture<ProductWritesTests.PostgresFixture>;

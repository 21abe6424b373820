using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Aspire.Hosting.Testing;

namespace Portico.SystemTests;

/// <summary>Eventual consistency through the real AppHost: what one purchase sets moving reaches Catalog and Reporting.</summary>
public sealed class EventsSystemTests(PorticoSystemFixture system)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Purchase_TakesTheStockDown_AndTheSalesReportShowsIt_WithinSeconds()
    {
        const int Quantity = 3;
        var admin = await system.AdminTokenAsync(Ct);
        // Catalog itself, not the gateway: product pages are cached at the edge for a while, stock is not purged there.
        using var catalog = system.App.CreateHttpClient("catalog-a", "http");
        var stockBefore = await StockAsync(catalog);
        var today = DateOnly.FromDateTime(DateTime.UtcNow).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var unitsBefore = await UnitsSoldAsync(admin, today);

        var (status, body) = await system.PurchaseAsync(await system.SignUpAsync(Ct), new { items = new[] { new { productId = ProductId, quantity = Quantity } } }, Ct);
        Assert.True(status == HttpStatusCode.OK, body);

        // Other tests buy too: each figure must have moved by at least this purchase, never back.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var stock = await StockAsync(catalog);
            var units = await UnitsSoldAsync(admin, today);
            if (stock <= stockBefore - Quantity && units >= unitsBefore + Quantity)
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, $"after 30 s: stock {stock} (was {stockBefore}), units of product {ProductId} sold today {units} (was {unitsBefore})");
            await Task.Delay(TimeSpan.FromMilliseconds(200), Ct);
        }

        async Task<long> StockAsync(HttpClient client)
        {
            using var product = JsonDocument.Parse(await client.GetStringAsync($"/api/products/{ProductId}", Ct));
            return product.RootElement.GetProperty("stock").GetInt64();
        }
    }

    private const int ProductId = 5;

    private async Task<long> UnitsSoldAsync(string adminToken, string day)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/reports/sales/summary?from={day}&to={day}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        using var response = await system.Gateway.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var summary = JsonDocument.Parse(text);
        return summary.RootElement.GetProperty("products").EnumerateArray()
            .Where(p => p.GetProperty("productId").GetInt32() == ProductId)
            .Sum(p => p.GetProperty("units").GetInt64());
    }
}

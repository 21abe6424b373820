using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Aspire.Hosting.Testing;

namespace Portico.SystemTests;

/// <summary>Eventual consistency through the real AppHost: what one purchase sets moving reaches Catalog and Reporting.</summary>
public sealed class EventsSystemTests(PorticoSystemFixture system)
{
    private const int ProductId = 5;
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Purchase_TakesTheStockDown_AndTheSalesReportShowsIt_WithinSeconds()
    {
        const int Quantity = 3;
        var admin = await system.AdminTokenAsync(Ct);
        // Catalog itself, not the gateway: product pages are cached at the edge for a while, stock is not purged there.
        using var catalog = system.App.CreateHttpClient("catalog-a", "http");
        var today = DateOnly.FromDateTime(DateTime.UtcNow).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var stockBefore = await Eventually(() => StockAsync(catalog), _ => true);
        var unitsBefore = await Eventually(() => UnitsSoldAsync(admin, today), _ => true);

        var (status, body) = await system.PurchaseAsync(await system.SignUpAsync(Ct), new { items = new[] { new { productId = ProductId, quantity = Quantity } } }, Ct);
        Assert.True(status == HttpStatusCode.OK, body);

        // Only this test buys this product; the figures must move by this purchase, within seconds.
        await Eventually(() => StockAsync(catalog), stock => stock == stockBefore - Quantity);
        await Eventually(() => UnitsSoldAsync(admin, today), units => units == unitsBefore + Quantity);
    }

    /// <summary>
    /// Polls until <paramref name="read"/> answers a value that <paramref name="done"/> accepts; an answer that is not 200
    /// (a service still warming up on a busy machine) counts as "not yet". Fails after <see cref="Within"/> with the last answer.
    /// </summary>
    private static async Task<long> Eventually(Func<Task<(long? Value, string Answer)>> read, Func<long, bool> done)
    {
        var deadline = DateTime.UtcNow + Within;
        while (true)
        {
            var (value, answer) = await read();
            if (value is { } v && done(v))
            {
                return v;
            }
            Assert.True(DateTime.UtcNow < deadline, $"not reached within {Within}; last answer: {answer}");
            await Task.Delay(TimeSpan.FromMilliseconds(250), Ct);
        }
    }

    private static async Task<(long?, string)> StockAsync(HttpClient catalog)
    {
        using var response = await catalog.GetAsync($"/api/products/{ProductId}", Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (null, text);
        }
        using var product = JsonDocument.Parse(text);
        return (product.RootElement.GetProperty("stock").GetInt64(), text);
    }

    private async Task<(long?, string)> UnitsSoldAsync(string adminToken, string day)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/reports/sales/summary?from={day}&to={day}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        using var response = await system.Gateway.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (null, text);
        }
        using var summary = JsonDocument.Parse(text);
        return (summary.RootElement.GetProperty("products").EnumerateArray()
            .Where(p => p.GetProperty("productId").GetInt32() == ProductId)
            .Sum(p => p.GetProperty("units").GetInt64()), text);
    }
}

using System.Net;
using System.Text.Json;

namespace Portico.SystemTests;

public sealed class GatewaySystemTests(PorticoSystemFixture system)
{
    [Fact]
    public async Task Products_ThroughTheGateway_ComeFromCatalog()
    {
        using var response = await system.Gateway.GetAsync("/api/products?pageSize=5", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(5, body.RootElement.GetProperty("items").GetArrayLength());
        Assert.True(body.RootElement.GetProperty("totalCount").GetInt32() >= 50);
        Assert.True(response.Headers.Contains("X-Request-Id"));
    }

    [Fact]
    public async Task Weather_ForSeoul_ThroughTheGateway_ComesFromWeather()
    {
        using var response = await system.Gateway.GetAsync("/api/weather?city=Seoul", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("Seoul", body.RootElement.GetProperty("city").GetString());
        Assert.True(body.RootElement.GetProperty("forecasts").GetArrayLength() > 0);
    }

    [Fact]
    public async Task ProductPage_RepeatedThroughTheGateway_IsFoundWhicheverInstanceServesIt()
    {
        // Two Catalog instances share one database and the gateway balances between them.
        for (var i = 0; i < 20; i++)
        {
            using var response = await system.Gateway.GetAsync("/api/products/1", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task UnknownRoute_ThroughTheGateway_Is404ProblemJson()
    {
        using var response = await system.Gateway.GetAsync("/api/nothing-here", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Autocomplete_ThroughTheGateway_AnswersFromTheNodeService_AndTheSecondCallIsACacheHit()
    {
        var ct = TestContext.Current.CancellationToken;
        using var first = await system.Gateway.GetAsync("/api/autocomplete?q=%EA%B0%90&limit=20", ct); // q=감
        using var second = await system.Gateway.GetAsync("/api/autocomplete?q=%EA%B0%90&limit=20", ct);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var body = JsonDocument.Parse(await first.Content.ReadAsStringAsync(ct));
        var items = body.RootElement.GetProperty("items").EnumerateArray().ToList();
        Assert.NotEmpty(items);
        Assert.All(items, item => Assert.Contains(item.GetProperty("source").GetString(), new[] { "term", "product" }));
        Assert.Equal("\uAC10", body.RootElement.GetProperty("q").GetString());
        Assert.Equal("HIT", second.Headers.GetValues("Portico-Cache").Single());
    }

    [Fact]
    public async Task Weather_AskedTwice_TheSecondAnswerComesFromTheGatewayCache()
    {
        using var first = await system.Gateway.GetAsync("/api/weather?city=Busan", TestContext.Current.CancellationToken);
        using var second = await system.Gateway.GetAsync("/api/weather?city=Busan", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("HIT", second.Headers.GetValues("Portico-Cache").Single());
        Assert.Equal(await first.Content.ReadAsStringAsync(TestContext.Current.CancellationToken),
            await second.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }
}

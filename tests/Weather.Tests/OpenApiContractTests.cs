using Portico.Tests.Common.Contracts;

namespace Portico.Weather.Tests;

/// <summary>Weather's published contract: valid OpenAPI 3.1, and no break from its baseline.</summary>
public sealed class OpenApiContractTests(WeatherFixture fixture) : IClassFixture<WeatherFixture>
{
    [Fact]
    public async Task OpenApiDocument_IsValid_AndCompatibleWithItsBaseline()
    {
        var document = await ContractBaselines.AssertOpenApiCompatibleAsync(fixture.Client, "weather");

        var forecast = document["paths"]!["/api/weather"]!["get"]!;
        Assert.Contains(forecast["parameters"]!.AsArray(), p => p!["name"]!.GetValue<string>() == "city");
        Assert.NotNull(forecast["responses"]!["default"]!["content"]!["application/problem+json"]);
    }
}

using Portico.Tests.Common.Contracts;

namespace Portico.Ordering.Tests;

/// <summary>Ordering's published contract: valid OpenAPI 3.1, every order operation secured, and no break from its baseline.</summary>
public sealed class OpenApiContractTests(OrderingFixture fixture) : IClassFixture<OrderingFixture>
{
    [Fact]
    public async Task OpenApiDocument_IsValid_AndCompatibleWithItsBaseline()
    {
        using var client = new HttpClient { BaseAddress = fixture.App.Address };
        var document = await ContractBaselines.AssertOpenApiCompatibleAsync(client, "ordering");

        var place = document["paths"]!["/api/orders"]!["post"]!;
        Assert.Equal("Bearer", place["security"]![0]!.AsObject().Single().Key);
    }
}

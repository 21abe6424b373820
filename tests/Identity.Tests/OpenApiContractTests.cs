using Portico.Tests.Common.Contracts;

namespace Portico.Identity.Tests;

/// <summary>Identity's published contract: valid OpenAPI 3.1, the token-only operations secured, and no break from its baseline.</summary>
public sealed class OpenApiContractTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>
{
    [Fact]
    public async Task OpenApiDocument_IsValid_AndCompatibleWithItsBaseline()
    {
        var document = await ContractBaselines.AssertOpenApiCompatibleAsync(fixture.Client, "identity");

        var paths = document["paths"]!.AsObject();
        Assert.Null(paths["/api/auth/token"]!["post"]!["security"]);
        Assert.Equal("Bearer", paths["/api/auth/me"]!["get"]!["security"]![0]!.AsObject().Single().Key);
    }
}

using Portico.Tests.Common.Contracts;

namespace Portico.Catalog.Tests;

/// <summary>Catalog's published contract: valid OpenAPI 3.1, secured and problem-typed as the gateway expects, and no break from its baseline.</summary>
public sealed class OpenApiContractTests(CatalogFixture fixture) : IClassFixture<CatalogFixture>
{
    [Fact]
    public async Task OpenApiDocument_IsValid_AndCompatibleWithItsBaseline()
    {
        var document = await ContractBaselines.AssertOpenApiCompatibleAsync(fixture.Client, "catalog");

        var paths = document["paths"]!.AsObject();
        var list = paths["/api/products"]!["get"]!;
        Assert.Null(list["security"]);
        Assert.Equal("#/components/schemas/ProblemDetails", list["responses"]!["default"]!["content"]!["application/problem+json"]!["schema"]!["$ref"]!.GetValue<string>());
        // Writes need a token with the admin policy: the requirement and the policy are both in the document.
        var create = paths["/api/products"]!["post"]!;
        Assert.Equal("Bearer", create["security"]![0]!.AsObject().Single().Key);
        Assert.Contains("admin", create["x-portico-policies"]!.AsArray().Select(p => p!.GetValue<string>()), StringComparer.OrdinalIgnoreCase);
        Assert.NotNull(create["responses"]!["401"]);
        Assert.Equal("bearer", document["components"]!["securitySchemes"]!["Bearer"]!["scheme"]!.GetValue<string>());
    }
}

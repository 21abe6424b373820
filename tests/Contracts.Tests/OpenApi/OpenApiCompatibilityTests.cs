using System.Text.Json.Nodes;
using Portico.Tests.Common.Contracts;

namespace Portico.Contracts.Tests.OpenApi;

/// <summary>The baseline comparer the services' contract tests use: additions pass, each kind of break is named.</summary>
public sealed class OpenApiCompatibilityTests
{
    private const string Baseline = """
        {
          "openapi": "3.1.1", "info": { "title": "t", "version": "v1" },
          "paths": {
            "/api/products": {
              "get": {
                "parameters": [ { "name": "page", "in": "query", "schema": { "type": "integer" } } ],
                "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Product" } } } } }
              },
              "post": {
                "requestBody": { "content": { "application/json": { "schema": { "type": "object", "required": [ "name" ], "properties": { "name": { "type": "string" }, "price": { "type": [ "integer", "string" ] } } } } } },
                "responses": { "201": { "description": "made" } }
              }
            }
          },
          "components": { "schemas": { "Product": { "type": "object", "required": [ "id", "price" ], "properties": { "id": { "type": "integer" }, "price": { "type": "integer" } } } } }
        }
        """;

    private static JsonObject Doc(string text) => JsonNode.Parse(text)!.AsObject();

    [Fact]
    public void SameDocument_AndAdditions_AreNotBreaking()
    {
        Assert.Empty(OpenApiCompatibility.BreakingChanges(Doc(Baseline), Doc(Baseline)));
        var added = Baseline
            .Replace("\"price\": { \"type\": \"integer\" } } }", "\"price\": { \"type\": \"integer\" }, \"currency\": { \"type\": \"string\" } } }", StringComparison.Ordinal)
            .Replace("\"/api/products\": {", "\"/api/v2/products\": { \"get\": { \"responses\": { \"200\": { \"description\": \"ok\" } } } }, \"/api/products\": {", StringComparison.Ordinal)
            .Replace("{ \"name\": \"page\",", "{ \"name\": \"sort\", \"in\": \"query\", \"schema\": { \"type\": \"string\" } }, { \"name\": \"page\",", StringComparison.Ordinal);
        Assert.Empty(OpenApiCompatibility.BreakingChanges(Doc(Baseline), Doc(added)));
    }

    /// <summary>
    /// A body the baseline did not declare (Identity's, read by hand until it was documented) is not a break when it is
    /// first declared, required fields and all: the endpoint always required them, so no working client lacks them. Once
    /// the body is in the baseline, a new required field is a break like any other.
    /// </summary>
    [Fact]
    public void RequestBody_FirstDeclared_IsNotABreak_ButANewRequiredFieldAfterwardsIs()
    {
        const string Undeclared = """
            { "openapi": "3.1.1", "info": { "title": "t", "version": "v1" },
              "paths": { "/api/auth/token": { "post": { "responses": { "200": { "description": "ok" } } } } } }
            """;
        var declared = Undeclared.Replace("\"post\": {", "\"post\": { \"requestBody\": { \"required\": true, \"content\": { \"application/json\": { \"schema\": { \"type\": \"object\", \"required\": [ \"email\" ], \"properties\": { \"email\": { \"type\": \"string\" } } } } } },", StringComparison.Ordinal);
        var stricter = declared.Replace("\"required\": [ \"email\" ]", "\"required\": [ \"email\", \"password\" ]", StringComparison.Ordinal);
        Assert.NotEqual(declared, stricter);

        Assert.Empty(OpenApiCompatibility.BreakingChanges(Doc(Undeclared), Doc(declared)));
        Assert.Equal(["POST /api/auth/token request body: field 'password' is now required."], OpenApiCompatibility.BreakingChanges(Doc(declared), Doc(stricter)));
    }

    [Theory]
    [InlineData("\"post\": {", "\"put\": {", "POST /api/products: the operation was removed.")]
    [InlineData("\"id\": { \"type\": \"integer\" }, ", "", "GET /api/products response 200: field 'id' was removed.")]
    [InlineData("\"required\": [ \"id\", \"price\" ]", "\"required\": [ \"id\" ]", "GET /api/products response 200: field 'price' is no longer always present.")]
    [InlineData("\"price\": { \"type\": \"integer\" } } }", "\"price\": { \"type\": \"string\" } } }", "GET /api/products response 200.price: may now be of type string.")]
    [InlineData("\"required\": [ \"name\" ]", "\"required\": [ \"name\", \"price\" ]", "POST /api/products request body: field 'price' is now required.")]
    [InlineData("\"type\": [ \"integer\", \"string\" ]", "\"type\": \"integer\"", "POST /api/products request body.price: no longer accepts type string.")]
    [InlineData("{ \"name\": \"page\", \"in\": \"query\",", "{ \"name\": \"page\", \"in\": \"query\", \"required\": true,", "GET /api/products: parameter query:page became required.")]
    [InlineData("\"201\": { \"description\": \"made\" }", "\"200\": { \"description\": \"made\" }", "POST /api/products: response 201 was removed.")]
    public void BreakingChange_IsReportedByName(string from, string to, string expected)
    {
        var changed = Baseline.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(Baseline, changed);
        Assert.Contains(expected, OpenApiCompatibility.BreakingChanges(Doc(Baseline), Doc(changed)));
    }
}

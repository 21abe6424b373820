using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;
using Portico.Tests.OpenApi;

namespace Portico.Gateway.Tests.OpenApi;

/// <summary>
/// A version chosen by a request header in the merged document, as the shop serves its product list: v1 at
/// <c>/api/items</c> (deprecated), v2 at <c>/api/v2/items</c> and at <c>/api/items</c> with <c>Api-Version: 2</c>, two
/// clusters over one service that publishes both versions. The answers the gateway really gives are checked against the
/// schemas the document gives for each request.
/// </summary>
public sealed class HeaderVersionOpenApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string ServiceDocument = """
        {
          "openapi": "3.1.1",
          "info": { "title": "Items", "version": "v1" },
          "paths": {
            "/api/items": {
              "get": {
                "operationId": "ListItems",
                "parameters": [ { "name": "page", "in": "query", "schema": { "type": "integer" } } ],
                "responses": { "200": { "description": "A page of items.", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Item" } } } } } }
              }
            },
            "/api/v2/items": {
              "get": {
                "operationId": "ListItemsV2",
                "parameters": [ { "name": "cursor", "in": "query", "description": "Where the page starts.", "schema": { "type": "string" } } ],
                "responses": {
                  "200": { "description": "A page of items, with the cursor of the next.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ItemPageV2" } } } },
                  "400": { "description": "A bad cursor.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/ProblemDetails" } } } }
                }
              }
            }
          },
          "components": {
            "schemas": {
              "Item": { "type": "object", "required": [ "id", "price" ], "properties": { "id": { "type": "integer" }, "price": { "type": "integer" } } },
              "ItemV2": { "type": "object", "required": [ "id", "price" ], "properties": { "id": { "type": "integer" }, "price": { "type": "object", "required": [ "amount", "currency" ], "properties": { "amount": { "type": "integer" }, "currency": { "type": "string" } } } } },
              "ItemPageV2": { "type": "object", "required": [ "items", "nextCursor" ], "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/ItemV2" } }, "nextCursor": { "type": [ "string", "null" ] } } },
              "ProblemDetails": { "type": "object" }
            }
          }
        }
        """;

    /// <summary>The shop's three product routes over <paramref name="service"/>; the header route first in the file and ordered first, which must not matter.</summary>
    private static string GatewayFile(Uri service) => $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "items-v2-header": {
                "ClusterId": "v2", "AuthorizationPolicy": "anonymous", "Order": -1,
                "Match": { "Path": "/api/items/{**rest}", "Methods": [ "GET", "HEAD" ], "Headers": [ { "Name": "Api-Version", "Values": [ "2", "2.0" ], "Mode": "ExactHeader" } ] },
                "Transforms": [ { "PathPattern": "/api/v2/items/{**rest}" } ]
              },
              "items": {
                "ClusterId": "v1", "AuthorizationPolicy": "anonymous",
                "Metadata": { "Portico.Deprecation": "2026-12-01", "Portico.SuccessorVersion": "/api/v2/items" },
                "Match": { "Path": "/api/items/{**rest}", "Methods": [ "GET", "HEAD" ] }
              },
              "items-v2": { "ClusterId": "v2", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/api/v2/items/{**rest}", "Methods": [ "GET", "HEAD" ] } }
            },
            "Clusters": {
              "v1": { "Metadata": { "Portico.OpenApi": "/openapi/v1.json" }, "Destinations": { "a": { "Address": "{{service}}" } } },
              "v2": { "Metadata": { "Portico.OpenApi": "/openapi/v1.json" }, "Destinations": { "a": { "Address": "{{service}}" } } }
            }
          },
          "Portico": { "OpenApi": { "Title": "Versioned shop" } }
        }
        """;

    private static Task<TestBackend> StartServiceAsync() => TestBackend.StartAsync("items", app =>
    {
        app.MapGet("/openapi/v1.json", () => Results.Text(ServiceDocument, "application/json"));
        app.MapGet("/api/items", () => Results.Json(new[] { new { id = 1, price = 1200 } }));
        app.MapGet("/api/v2/items", () => Results.Json(new { items = new[] { new { id = 1, price = new { amount = 1200, currency = "KRW" } } }, nextCursor = (string?)null }));
    }, Ct);

    [Fact]
    public async Task HeaderChosenVersion_IsAHeaderParameterWithItsValues_AndTheVersionsSchemasTogether()
    {
        await using var service = await StartServiceAsync();
        await using var gateway = await GatewayTestHost.StartAsync(GatewayFile(service.Address));

        var (_, json) = await MergedOpenApiTests.ReadAsync(gateway.Client); // valid OpenAPI 3.1, by Microsoft.OpenApi's reader and rules

        var list = json["paths"]!["/api/items"]!["get"]!.AsObject();
        // The operation is the default version's: the route without a header match, deprecated.
        Assert.Equal("ListItems", list["operationId"]!.GetValue<string>());
        Assert.Equal("items", list["x-portico-route"]!.GetValue<string>());
        Assert.True(list["deprecated"]!.GetValue<bool>());

        // The header, optional (without it: v1), with the values that choose v2.
        var header = Assert.Single(list["parameters"]!.AsArray().OfType<JsonObject>(), p => p["in"]!.GetValue<string>() == "header");
        Assert.Equal("Api-Version", header["name"]!.GetValue<string>());
        Assert.False(header["required"]!.GetValue<bool>());
        Assert.Equal("""{"type":"string","enum":["2","2.0"]}""", header["schema"]!.ToJsonString());
        Assert.StartsWith("Chooses the version: Api-Version: '2' or '2.0' chooses route 'items-v2-header' (cluster 'v2', /api/v2/items); without it, route 'items' (deprecated).",
            header["description"]!.GetValue<string>(), StringComparison.Ordinal);
        // v2's own query parameter, optional and said to be v2's; v1's stays as it was.
        var cursor = Assert.Single(list["parameters"]!.AsArray().OfType<JsonObject>(), p => p["name"]!.GetValue<string>() == "cursor");
        Assert.False(cursor["required"]!.GetValue<bool>());
        Assert.StartsWith("Only with Api-Version: '2' or '2.0'", cursor["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(list["parameters"]!.AsArray().OfType<JsonObject>(), p => p["name"]!.GetValue<string>() == "page");

        // Either version's answer, and v2's 400 that v1 does not have.
        Assert.Equal(
            """{"anyOf":[{"type":"array","items":{"$ref":"#/components/schemas/Item"}},{"$ref":"#/components/schemas/ItemPageV2"}]}""",
            list["responses"]!["200"]!["content"]!["application/json"]!["schema"]!.ToJsonString());
        Assert.StartsWith("With Api-Version: '2' or '2.0': ", list["responses"]!["400"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);

        // Exactly which version answers which request.
        var versions = list["x-portico-versions"]!.AsArray();
        Assert.Equal(2, versions.Count);
        Assert.Equal("""{"route":"items","default":true,"deprecated":true}""", versions[0]!.ToJsonString());
        var v2 = versions[1]!.AsObject();
        Assert.Equal("items-v2-header", v2["route"]!.GetValue<string>());
        Assert.Equal("""[{"name":"Api-Version","mode":"ExactHeader","values":["2","2.0"],"caseSensitive":false}]""", v2["headers"]!.ToJsonString());
        Assert.Equal("/api/v2/items", v2["servicePath"]!.GetValue<string>());
        Assert.Equal("#/components/schemas/ItemPageV2", v2["operation"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>());
        Assert.Null(v2["operation"]!["operationId"]); // operation ids stay unique: the path route's v2 operation has its own
        Assert.Null(v2["deprecated"]);

        // The path-versioned route is untouched by it.
        var byPath = json["paths"]!["/api/v2/items"]!["get"]!.AsObject();
        Assert.Null(byPath["x-portico-versions"]);
        Assert.DoesNotContain(byPath["parameters"]!.AsArray().OfType<JsonObject>(), p => p["in"]!.GetValue<string>() == "header");
    }

    [Theory]
    [InlineData(null, 0)]
    [InlineData("2", 1)]
    [InlineData("2.0", 1)]
    [InlineData("1", 0)]
    public async Task TheGatewaysAnswer_FitsTheSchemaTheDocumentGivesForTheHeader(string? apiVersion, int version)
    {
        await using var service = await StartServiceAsync();
        await using var gateway = await GatewayTestHost.StartAsync(GatewayFile(service.Address));
        var (_, document) = await MergedOpenApiTests.ReadAsync(gateway.Client);
        var list = document["paths"]!["/api/items"]!["get"]!;

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/items");
        if (apiVersion is not null)
        {
            request.Headers.Add("Api-Version", apiVersion);
        }
        using var response = await gateway.Client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));

        // The answer fits the operation's 200, and the schema of the version x-portico-versions names for this header —
        // not the other one's.
        var schemas = new OpenApiJsonSchema(document);
        Assert.Empty(schemas.Errors(list["responses"]!["200"]!["content"]!["application/json"]!["schema"]!, answer.RootElement));
        var v2Schema = list["x-portico-versions"]![1]!["operation"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!;
        var v1Schema = ((JsonObject)list["responses"]!["200"]!["content"]!["application/json"]!["schema"]!)["anyOf"]![0]!;
        Assert.Empty(schemas.Errors(version == 1 ? v2Schema : v1Schema, answer.RootElement));
        Assert.NotEmpty(schemas.Errors(version == 1 ? v1Schema : v2Schema, answer.RootElement));
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.OpenApi;
using Portico.Gateway.Tests.Transcoding;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.OpenApi;

/// <summary>
/// The gateway's <c>GET /openapi/v1.json</c> over real services on Kestrel that publish their own documents: what a client
/// of the gateway sees, checked by Microsoft.OpenApi's reader and rule set, route by route.
/// </summary>
public sealed class MergedOpenApiTests
{
    private const string ItemsDocument = """
        {
          "openapi": "3.1.1",
          "info": { "title": "Items", "version": "v1" },
          "paths": {
            "/api/items": {
              "get": { "operationId": "ListItems", "responses": { "200": { "description": "Items.", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Item" } } } } } } },
              "post": {
                "operationId": "CreateItem",
                "security": [ { "Bearer": [ "admin" ] } ],
                "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Item" } } } },
                "responses": { "201": { "description": "Made." }, "400": { "description": "Bad.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/ProblemDetails" } } } } }
              }
            },
            "/api/items/{id}": {
              "get": { "operationId": "GetItem", "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } } ], "responses": { "200": { "description": "One.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Item" } } } } } }
            },
            "/internal/rebuild": { "post": { "operationId": "Rebuild", "responses": { "204": { "description": "Done." } } } }
          },
          "components": {
            "schemas": {
              "Item": { "type": "object", "required": [ "id" ], "properties": { "id": { "type": "integer" }, "name": { "type": "string" }, "tag": { "$ref": "#/components/schemas/Tag" } } },
              "Tag": { "type": "string" },
              "ProblemDetails": { "type": "object" }
            },
            "securitySchemes": { "Bearer": { "type": "http", "scheme": "bearer" } }
          }
        }
        """;

    private const string CompleteDocument = """
        {
          "openapi": "3.1.1",
          "info": { "title": "Complete", "version": "v1" },
          "paths": { "/complete": { "get": { "operationId": "Complete", "parameters": [ { "name": "q", "in": "query", "required": true, "schema": { "type": "string" } } ], "responses": { "200": { "description": "Suggestions.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Item" } } } } } } } },
          "components": { "schemas": { "Item": { "type": "object", "properties": { "term": { "type": "string" } } } } }
        }
        """;

    /// <summary>The test shop's gateway file; with <paramref name="things"/>, also the Things gRPC service transcoded to REST (learnt by reflection).</summary>
    private static string GatewayFile(Uri items, Uri complete, Uri grpc, string extraRoute = "", Uri? things = null)
    {
        var thingsCluster = things is null ? "" : $$"""
            , "things": { "HttpRequest": { "Version": "2.0", "VersionPolicy": "RequestVersionExact" }, "Destinations": { "a": { "Address": "{{things}}" } } }
            """;
        var transcoding = things is null ? "" : """
            , "Transcoding": { "Services": { "portico.test.v1.Things": { "Cluster": "things", "Reflection": true, "AuthorizationPolicy": "anonymous" } } }
            """;
        return $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "items": { "ClusterId": "items", "AuthorizationPolicy": "anonymous", "Metadata": { "Portico.Cache": "items" }, "Match": { "Path": "/api/items/{**rest}", "Methods": [ "GET", "HEAD" ] } },
              "items-write": { "ClusterId": "items", "Metadata": { "Portico.RateLimit": "writes" }, "Match": { "Path": "/api/items/{**rest}", "Methods": [ "POST", "PUT" ] } },
              "items-admin": { "ClusterId": "items", "AuthorizationPolicy": "admin", "Match": { "Path": "/api/admin/items", "Methods": [ "DELETE" ] } },
              "complete": { "ClusterId": "complete", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/api/autocomplete", "Methods": [ "GET" ] }, "Transforms": [ { "PathSet": "/complete" } ] },
              "points-grpc": { "ClusterId": "points", "Match": { "Path": "/points.v1.Points/{method}", "Methods": [ "POST" ] } }{{extraRoute}}
            },
            "Clusters": {
              "items": { "Metadata": { "Portico.OpenApi": "/openapi/v1.json" }, "Destinations": { "a": { "Address": "{{items}}" } } },
              "complete": { "Metadata": { "Portico.OpenApi": "/openapi/v1.json" }, "Destinations": { "a": { "Address": "{{complete}}" } } },
              "points": { "HttpRequest": { "Version": "2.0", "VersionPolicy": "RequestVersionExact" }, "Destinations": { "a": { "Address": "{{grpc}}" } } }{{thingsCluster}}
            }
          },
          "Portico": {
            "OpenApi": { "Title": "Test shop", "RefreshInterval": "00:00:01" },
            "Caching": { "Policies": { "items": { "Ttl": "00:01:00", "Tags": [ "items" ] } } },
            "RateLimiting": { "Policies": { "writes": { "Kind": "FixedWindow", "PermitLimit": 10, "Window": "00:01:00", "PartitionBy": "User" } } }{{transcoding}}
          }
        }
        """;
    }

    [Fact]
    public async Task MergedDocument_IsValidOpenApi31_WithEveryRouteItsMethodsAndSecurity()
    {
        await using var items = await TestBackend.StartAsync("items", app => app.MapGet("/openapi/v1.json", () => Results.Text(ItemsDocument, "application/json")));
        await using var complete = await TestBackend.StartAsync("complete", app => app.MapGet("/openapi/v1.json", () => Results.Text(CompleteDocument, "application/json")));
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(GatewayFile(items.Address, complete.Address, new Uri("http://127.0.0.1:1"), things: things.Address));

        // The transcoded routes come once reflection has answered; every read is checked as OpenAPI 3.1 (ReadAsync).
        await Poll.UntilAsync(async () => (await ReadAsync(gateway.Client)).Json["paths"]!.AsObject().ContainsKey("/api/things/{id}"), "the transcoded routes in the document");
        var (document, json) = await ReadAsync(gateway.Client);

        Assert.Equal("Test shop", document.Info.Title);
        var paths = json["paths"]!.AsObject();
        // Only what the routes reach, only with the methods they accept; the transcoded methods at their rules' verbs and paths.
        Assert.Equal(
            ["/api/autocomplete", "/api/items", "/api/items/{id}", "/api/shelves/{shelf}/things", "/api/shelves/{shelf}/things/{id}", "/api/things", "/api/things/echo",
                "/api/things/{id}", "/api/things/{id}:archive", "/api/things:archiveAll", "/api/wait/{id}", "/points.v1.Points/{method}"],
            paths.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["post"], paths["/api/shelves/{shelf}/things"]!.AsObject().Select(p => p.Key));
        Assert.Empty(paths["/api/things/{id}"]!["get"]!["security"]!.AsArray()); // the service entry is anonymous
        Assert.Equal("#/components/schemas/portico.test.v1.Thing",
            paths["/api/things/{id}"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>());
        Assert.Equal(["get", "post"], paths["/api/items"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(["get"], paths["/api/items/{id}"]!.AsObject().Select(p => p.Key));

        // Anonymous at the gateway and at the service: no requirement. A default-policy route: bearer, with the service's roles.
        var list = paths["/api/items"]!["get"]!;
        Assert.Empty(list["security"]!.AsArray());
        Assert.Equal("items", list["x-portico-route"]!.GetValue<string>());
        var create = paths["/api/items"]!["post"]!;
        Assert.Equal("""[{"Bearer":["admin"]}]""", create["security"]!.ToJsonString());
        Assert.NotNull(create["responses"]!["401"]);

        // Route behaviour as extensions, and the 429 the rate limit answers.
        Assert.Equal("items", list["x-portico-cache"]!["policy"]!.GetValue<string>());
        Assert.Equal("00:01:00", list["x-portico-cache"]!["ttl"]!.GetValue<string>());
        Assert.Equal(10, create["x-portico-rate-limit"]!["permitLimit"]!.GetValue<int>());
        Assert.NotNull(create["responses"]!["429"]);

        // A cluster without a document still shows its route, secured by the default policy.
        var grpc = paths["/points.v1.Points/{method}"]!["post"]!;
        Assert.Equal("""[{"Bearer":[]}]""", grpc["security"]!.ToJsonString());
        Assert.NotNull(grpc["requestBody"]!["content"]!["application/grpc"]);

        // Two services' different "Item" schemas both survive, each reference pointing at its own.
        var schemas = json["components"]!["schemas"]!.AsObject();
        Assert.Contains("items.Item", schemas.Select(s => s.Key));
        Assert.Contains("complete.Item", schemas.Select(s => s.Key));
        Assert.Contains("Tag", schemas.Select(s => s.Key));
        Assert.Equal("#/components/schemas/complete.Item",
            paths["/api/autocomplete"]!["get"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>());
    }

    [Fact]
    public async Task PathTransform_IsReflectedInThePublicPath()
    {
        await using var complete = await TestBackend.StartAsync("complete", app => app.MapGet("/openapi/v1.json", () => Results.Text(CompleteDocument, "application/json")));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayFile(new Uri("http://127.0.0.1:1"), complete.Address, new Uri("http://127.0.0.1:1")));

        var (_, json) = await ReadAsync(gateway.Client);

        var paths = json["paths"]!.AsObject();
        Assert.False(paths.ContainsKey("/complete"));
        Assert.Equal("Complete", paths["/api/autocomplete"]!["get"]!["operationId"]!.GetValue<string>());
        Assert.Equal("q", paths["/api/autocomplete"]!["get"]!["parameters"]![0]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task HiddenPolicyRoutes_AndUnroutedServicePaths_AreLeftOut()
    {
        await using var items = await TestBackend.StartAsync("items", app => app.MapGet("/openapi/v1.json", () => Results.Text(ItemsDocument, "application/json")));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayFile(items.Address, new Uri("http://127.0.0.1:1"), new Uri("http://127.0.0.1:1")));

        var (_, json) = await ReadAsync(gateway.Client);

        var text = json.ToJsonString();
        Assert.DoesNotContain("/api/admin/items", text);
        Assert.DoesNotContain("/internal/rebuild", text);
        Assert.DoesNotContain("/portico", text);
    }

    [Fact]
    public async Task ServiceDocumentChange_IsMerged_AndADownServiceKeepsItsLastDocument()
    {
        var served = ItemsDocument;
        var items = await TestBackend.StartAsync("items", app => app.MapGet("/openapi/v1.json", () => Results.Text(served, "application/json")));
        await using var complete = await TestBackend.StartAsync("complete", app => app.MapGet("/openapi/v1.json", () => Results.Text(CompleteDocument, "application/json")));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayFile(items.Address, complete.Address, new Uri("http://127.0.0.1:1")));
        Assert.Contains("/api/items/{id}", (await ReadAsync(gateway.Client)).Json["paths"]!.AsObject().Select(p => p.Key));

        // The service publishes a new operation: merged on the next refresh.
        served = ItemsDocument.Replace("\"/internal/rebuild\"", "\"/api/items/{id}/archive\"", StringComparison.Ordinal);
        await Poll.UntilAsync(async () => (await ReadAsync(gateway.Client)).Json["paths"]!.AsObject().ContainsKey("/api/items/{id}/archive"), "the changed service document to be merged");

        // The service goes down and the gateway file changes: the new route appears, the service's operations stay.
        await items.DisposeAsync();
        await gateway.WriteConfigAsync(GatewayFile(items.Address, complete.Address, new Uri("http://127.0.0.1:1"),
            """, "extra": { "ClusterId": "complete", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/api/extra", "Methods": [ "GET" ] } }"""));
        await Poll.UntilAsync(async () => (await ReadAsync(gateway.Client)).Json["paths"]!.AsObject().ContainsKey("/api/extra"), "the edited gateway file to be merged");

        var paths = (await ReadAsync(gateway.Client)).Json["paths"]!.AsObject();
        Assert.True(paths.ContainsKey("/api/items/{id}/archive"));
        Assert.True(paths.ContainsKey("/api/items"));
    }

    [Fact]
    public async Task DeprecatedRoute_IsFlagged_WithItsDatesSuccessorAndAnswerFields()
    {
        await using var items = await TestBackend.StartAsync("items", app => app.MapGet("/openapi/v1.json", () => Results.Text(ItemsDocument, "application/json")));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayFile(items.Address, new Uri("http://127.0.0.1:1"), new Uri("http://127.0.0.1:1"), """
            , "items-v0": {
                "ClusterId": "items", "AuthorizationPolicy": "anonymous",
                "Metadata": { "Portico.Deprecation": "2026-01-01T00:00:00Z", "Portico.Sunset": "2026-12-31", "Portico.SuccessorVersion": "/api/items" },
                "Match": { "Path": "/api/v0/items/{**rest}", "Methods": [ "GET" ] },
                "Transforms": [ { "PathPattern": "/api/items/{**rest}" } ]
              }
            """));

        var (_, json) = await ReadAsync(gateway.Client);

        var old = json["paths"]!["/api/v0/items/{id}"]!["get"]!;
        Assert.True(old["deprecated"]!.GetValue<bool>());
        Assert.Equal("2026-01-01T00:00:00Z", old["x-portico-deprecation"]!.GetValue<string>());
        Assert.Equal("2026-12-31T00:00:00Z", old["x-portico-sunset"]!.GetValue<string>());
        Assert.Equal("/api/items", old["x-portico-successor"]!.GetValue<string>());
        // The fields each answer through the route carries, as the gateway writes them.
        var headers = old["responses"]!["200"]!["headers"]!;
        Assert.Equal("@1767225600", headers["Deprecation"]!["example"]!.GetValue<string>());
        Assert.Equal("Thu, 31 Dec 2026 00:00:00 GMT", headers["Sunset"]!["example"]!.GetValue<string>());
        Assert.Equal("</api/items>; rel=\"successor-version\"", headers["Link"]!["example"]!.GetValue<string>());
        // The successor, reached by its own route, is not deprecated.
        var current = json["paths"]!["/api/items/{id}"]!["get"]!;
        Assert.Null(current["deprecated"]);
        Assert.Null(current["x-portico-sunset"]);
        Assert.Null(current["responses"]!["200"]!["headers"]);
    }

    [Fact]
    public async Task Document_HasAnETag_AndDocsPageIsServedAnonymously()
    {
        await using var gateway = await GatewayTestHost.StartAsync(GatewayFile(new Uri("http://127.0.0.1:1"), new Uri("http://127.0.0.1:1"), new Uri("http://127.0.0.1:1")));
        var ct = TestContext.Current.CancellationToken;

        using var first = await gateway.Client.GetAsync("/openapi/v1.json", ct);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var again = new HttpRequestMessage(HttpMethod.Get, "/openapi/v1.json");
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using var notModified = await gateway.Client.SendAsync(again, ct);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var docs = await gateway.Client.GetAsync("/docs", ct);
        var page = await docs.Content.ReadAsStringAsync(ct);
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Equal("text/html", docs.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"url\":\"openapi/v1.json\"", page, StringComparison.Ordinal); // resolved against the application root by scalar.aspnetcore.js
        Assert.Contains("script-src 'self'", docs.Headers.GetValues("Content-Security-Policy").Single());
    }

    /// <summary>Reads the gateway's document and asserts that Microsoft.OpenApi reads it as 3.1 without errors and its rules find nothing.</summary>
    internal static async Task<(OpenApiDocument Document, JsonObject Json)> ReadAsync(HttpClient client)
    {
        var text = await client.GetStringAsync("/openapi/v1.json", TestContext.Current.CancellationToken);
        var read = OpenApiDocument.Parse(text, "json");
        Assert.Empty(read.Diagnostic!.Errors.Select(e => $"{e.Pointer}: {e.Message}"));
        Assert.Equal(OpenApiSpecVersion.OpenApi3_1, read.Diagnostic.SpecificationVersion);
        Assert.Empty(read.Document!.Validate(ValidationRuleSet.GetDefaultRuleSet())!.Select(e => $"{e.Pointer}: {e.Message}"));
        return (read.Document!, JsonNode.Parse(text)!.AsObject());
    }
}

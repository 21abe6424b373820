using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit.Sdk;
using Xunit.v3;

[assembly: TestCollectionOrderer(typeof(Portico.SystemTests.ConformanceCheckLast))]

namespace Portico.SystemTests;

/// <summary>
/// Runs alone and after every other collection: xUnit runs the parallel collections first, then the ones that disable
/// parallelization in the orderer's order, and <see cref="ConformanceCheckLast"/> puts this one at the end.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OpenApiConformanceCollection
{
    public const string Name = "OpenAPI conformance (runs last)";
}

/// <summary>xUnit's own order of the test collections, but the OpenAPI conformance check's collection last.</summary>
public sealed class ConformanceCheckLast : ITestCollectionOrderer
{
    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : ITestCollection
    {
        var ordered = DefaultTestCollectionOrderer.Instance.OrderTestCollections(testCollections);
        return [.. ordered.Where(c => c.TestCollectionDisplayName != OpenApiConformanceCollection.Name), .. ordered.Where(c => c.TestCollectionDisplayName == OpenApiConformanceCollection.Name)];
    }
}

/// <summary>
/// Every request the system tests sent through the gateway (<see cref="RequestRecorder"/>) conforms to the gateway's
/// merged OpenAPI document as it is at the end of the run (<see cref="OpenApiConformance"/>). Run after all the other
/// tests, so it sees their requests; run alone, it checks the representative requests it sends itself.
/// </summary>
[Collection(OpenApiConformanceCollection.Name)]
public sealed class OpenApiConformanceSystemTests(PorticoSystemFixture system, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string GatewayFile
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Portico.slnx")))
                {
                    return Path.Combine(dir.FullName, "src", "Gateway.Host", "gateway.json");
                }
            }
            throw new InvalidOperationException("Portico.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    [Fact]
    public async Task EveryRecordedRequest_ConformsToTheMergedDocument()
    {
        await SendRepresentativeRequestsAsync();
        using var documentClient = new HttpClient { BaseAddress = system.Gateway.BaseAddress };
        var document = JsonNode.Parse(await documentClient.GetStringAsync("/openapi/v1.json", Ct))!.AsObject();
        var conformance = new OpenApiConformance(document, OpenApiConformance.HiddenRoutes(GatewayFile));

        var requests = system.Recorder.Requests.ToList();
        output.WriteLine($"{requests.Count} requests recorded from {requests.Select(r => r.Test).Distinct().Count()} tests.");
        var problems = conformance.Check(requests);
        Assert.True(problems.Count == 0, $"{problems.Count} request(s) do not conform to the gateway's /openapi/v1.json:\n  " + string.Join("\n  ", problems));

        // The check can fail: a body that breaks the schema, and a path the document does not have.
        var wrong = conformance.Check(
        [
            new RecordedRequest("fabricated", "POST", "/api/orders", "", new HashSet<string>(), "application/json", """{"items":"three"}""", 201),
            new RecordedRequest("fabricated", "GET", "/api/undocumented", "", new HashSet<string>(), null, null, 200),
            // Identity's bodies are documented: a token request mixing two grants fits none of them.
            new RecordedRequest("fabricated", "POST", "/api/auth/token", "", new HashSet<string>(), "application/json", """{"grant_type":"refresh_token","refresh_token":"x","password":"y"}""", 200),
        ]);
        Assert.Contains(wrong, p => p.Contains("POST /api/orders", StringComparison.Ordinal) && p.Contains("schema", StringComparison.Ordinal));
        Assert.Contains(wrong, p => p.Contains("GET /api/undocumented", StringComparison.Ordinal) && p.Contains("no operation", StringComparison.Ordinal));
        Assert.Contains(wrong, p => p.Contains("POST /api/auth/token", StringComparison.Ordinal) && p.Contains("schema", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CatalogV1_IsDeprecatedInTheDocument_V2ByHeaderIsAVersionOfIt_AndTheTranscodedLoyaltyMethodsAreThere()
    {
        using var documentClient = new HttpClient { BaseAddress = system.Gateway.BaseAddress };
        var paths = JsonNode.Parse(await documentClient.GetStringAsync("/openapi/v1.json", Ct))!["paths"]!.AsObject();

        var v1 = paths["/api/products"]!["get"]!;
        Assert.True(v1["deprecated"]!.GetValue<bool>());
        Assert.Equal("/api/v2/products", v1["x-portico-successor"]!.GetValue<string>());
        Assert.Equal("2027-06-30T00:00:00Z", v1["x-portico-sunset"]!.GetValue<string>());
        Assert.Null(paths["/api/v2/products"]!["get"]!["deprecated"]);
        // v2 by header on the same path: the Api-Version parameter with the value that chooses it, and v2's answer too.
        var apiVersion = v1["parameters"]!.AsArray().OfType<JsonObject>().Single(p => p["in"]!.GetValue<string>() == "header" && p["name"]!.GetValue<string>() == "Api-Version");
        Assert.Equal("""["2"]""", apiVersion["schema"]!["enum"]!.ToJsonString());
        Assert.Equal("products-v2-header", v1["x-portico-versions"]![1]!["route"]!.GetValue<string>());
        Assert.Contains("CursorPageOfProductV2", v1["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["anyOf"]!.ToJsonString(), StringComparison.Ordinal);

        var balance = paths["/api/points/balance"]!["get"]!;
        Assert.Equal("loyalty.v1.Loyalty.GetBalance", balance["x-portico-grpc"]!["method"]!.GetValue<string>());
        Assert.Equal("""[{"Bearer":[]}]""", balance["security"]!.ToJsonString());
        Assert.Equal("#/components/schemas/loyalty.v1.Balance", balance["responses"]!["200"]!["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>());
        Assert.NotNull(paths["/api/points/entries"]!["get"]);
    }

    /// <summary>A request of each kind the public API has: a service's JSON API (v1 and v2), a transcoded gRPC method, a composition.</summary>
    private async Task SendRepresentativeRequestsAsync()
    {
        // A cold Identity on a busy machine may outlast the gateway's timeout once (504): this test is about the
        // document, so it signs up again rather than fail on that.
        string? token = null;
        for (var attempt = 1; token is null; attempt++)
        {
            try
            {
                token = await system.SignUpAsync(Ct);
            }
            catch (HttpRequestException ex) when (attempt < 3 && ex.StatusCode is HttpStatusCode.GatewayTimeout or HttpStatusCode.ServiceUnavailable)
            {
                output.WriteLine($"Sign-up attempt {attempt}: {ex.Message}");
            }
        }
        async Task SendAsync(HttpMethod method, string path, object? body = null, bool signedIn = false, string? apiVersion = null)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = JsonContent.Create(body);
            }
            if (signedIn)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            if (apiVersion is not null)
            {
                request.Headers.Add("Api-Version", apiVersion);
            }
            using var response = await system.Gateway.SendAsync(request, Ct);
            Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
        }
        await SendAsync(HttpMethod.Get, "/api/products?pageSize=2");
        await SendAsync(HttpMethod.Get, "/api/v2/products?pageSize=2");
        await SendAsync(HttpMethod.Get, "/api/products?pageSize=2", apiVersion: "2");
        await SendAsync(HttpMethod.Get, "/api/weather?city=Seoul");
        await SendAsync(HttpMethod.Get, "/api/points/balance", signedIn: true);
        await SendAsync(HttpMethod.Get, "/api/points/entries?pageSize=5", signedIn: true);
        await SendAsync(HttpMethod.Post, "/api/orders", new { items = new[] { new { productId = 2, quantity = 1 } } }, signedIn: true);
        await SendAsync(HttpMethod.Get, "/api/home", signedIn: true);
    }
}

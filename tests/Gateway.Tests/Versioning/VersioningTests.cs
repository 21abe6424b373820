using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Caching;
using Portico.Gateway.Configuration;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Versioning;

/// <summary>
/// Two versions of one API behind the gateway, as the shop serves Catalog's product list: v1 at <c>/api/products</c>,
/// deprecated in the gateway file; v2 at <c>/api/v2/products</c> and at <c>/api/products</c> with <c>Api-Version: 2</c>;
/// a canary split by destination weight. Real backends count what reaches them.
/// </summary>
public sealed class VersioningTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset Deprecated = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Sunset = new(2027, 6, 30, 0, 0, 0, TimeSpan.Zero);

    private static string VersionedGateway(Uri v1, Uri v2, string cache = "") => $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "products": {
                "ClusterId": "v1", "AuthorizationPolicy": "anonymous",
                "Metadata": { {{cache}} "Portico.Deprecation": "2026-12-01", "Portico.Sunset": "2027-06-30T09:00:00+09:00", "Portico.SuccessorVersion": "/api/v2/products" },
                "Match": { "Path": "/api/products/{**rest}", "Methods": [ "GET", "HEAD" ] },
                "Transforms": [ { "ResponseHeader": "Vary", "Append": "Api-Version" } ]
              },
              "products-v2": {
                "ClusterId": "v2", "AuthorizationPolicy": "anonymous",
                "Match": { "Path": "/api/v2/products/{**rest}", "Methods": [ "GET", "HEAD" ] }
              },
              "products-v2-header": {
                "ClusterId": "v2", "AuthorizationPolicy": "anonymous",
                "Match": { "Path": "/api/products/{**rest}", "Methods": [ "GET", "HEAD" ], "Headers": [ { "Name": "Api-Version", "Values": [ "2" ], "Mode": "ExactHeader" } ] },
                "Transforms": [ { "PathPattern": "/api/v2/products/{**rest}" }, { "ResponseHeader": "Vary", "Append": "Api-Version" } ]
              }
            },
            "Clusters": {
              "v1": { "Destinations": { "v1": { "Address": "{{v1}}" } } },
              "v2": { "Destinations": { "v2": { "Address": "{{v2}}" } } }
            }
          },
          "Portico": { "Caching": { "Policies": { "products": { "Ttl": "00:01:00" } } } }
        }
        """;

    private static Task<TestBackend> StartV1() => TestBackend.StartAsync("v1", app => app.MapGet("/api/products", () => Results.Text("v1")));

    private static Task<TestBackend> StartV2() => TestBackend.StartAsync("v2", app => app.MapGet("/api/v2/products", () => Results.Text("v2")));

    private static string? Field(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    [Fact]
    public async Task PathAndApiVersionHeader_ChooseTheVersion_AndOnlyV1IsDeprecated()
    {
        await using var v1 = await StartV1();
        await using var v2 = await StartV2();
        await using var gateway = await GatewayTestHost.StartAsync(VersionedGateway(v1.Address, v2.Address));

        using var plain = await gateway.Client.GetAsync("/api/products", Ct);
        Assert.Equal("v1", await plain.Content.ReadAsStringAsync(Ct));
        Assert.NotNull(Field(plain, "Deprecation"));
        Assert.Contains("Api-Version", plain.Headers.Vary);

        using var byPath = await gateway.Client.GetAsync("/api/v2/products", Ct);
        Assert.Equal("v2", await byPath.Content.ReadAsStringAsync(Ct));
        Assert.Null(Field(byPath, "Deprecation"));
        Assert.Null(Field(byPath, "Sunset"));

        using var v2Request = new HttpRequestMessage(HttpMethod.Get, "/api/products");
        v2Request.Headers.Add("Api-Version", "2");
        using var byHeader = await gateway.Client.SendAsync(v2Request, Ct);
        Assert.Equal("v2", await byHeader.Content.ReadAsStringAsync(Ct));
        Assert.Null(Field(byHeader, "Deprecation"));
        // RFC 9110 §12.5.5: a cache in front of the gateway must key /api/products by the header too.
        Assert.Contains("Api-Version", byHeader.Headers.Vary);

        using var v1Request = new HttpRequestMessage(HttpMethod.Get, "/api/products");
        v1Request.Headers.Add("Api-Version", "1");
        using var asked1 = await gateway.Client.SendAsync(v1Request, Ct);
        Assert.Equal("v1", await asked1.Content.ReadAsStringAsync(Ct));

        Assert.Equal(2, v1.HitsFor("/api/products"));
        Assert.Equal(2, v2.HitsFor("/api/v2/products"));
    }

    [Fact]
    public async Task Deprecation_IsAStructuredFieldDate_Rfc9745Section2_1()
    {
        await using var v1 = await StartV1();
        await using var v2 = await StartV2();
        await using var gateway = await GatewayTestHost.StartAsync(VersionedGateway(v1.Address, v2.Address));

        using var response = await gateway.Client.GetAsync("/api/products", Ct);

        // RFC 9651 §3.3.7 Date: "@" then an integer of seconds since 1970-01-01T00:00:00Z; one value, nothing else.
        var value = Assert.Single(response.Headers.GetValues("Deprecation"));
        Assert.Matches(new Regex("^@-?[0-9]{1,15}$"), value);
        Assert.Equal(Deprecated.ToUnixTimeSeconds(), long.Parse(value[1..], CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Sunset_IsAnHttpDate_Rfc8594Section3()
    {
        await using var v1 = await StartV1();
        await using var v2 = await StartV2();
        await using var gateway = await GatewayTestHost.StartAsync(VersionedGateway(v1.Address, v2.Address));

        using var response = await gateway.Client.GetAsync("/api/products", Ct);

        // RFC 9110 §5.6.7 IMF-fixdate, in GMT: the configured +09:00 time converted.
        var value = Assert.Single(response.Headers.GetValues("Sunset"));
        Assert.Matches(new Regex(@"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$"), value);
        Assert.Equal(Sunset, DateTimeOffset.ParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));
    }

    [Fact]
    public async Task SuccessorVersion_IsALinkWithItsRelation_Rfc9745Section3_Rfc5829Section3()
    {
        await using var v1 = await StartV1();
        await using var v2 = await StartV2();
        await using var gateway = await GatewayTestHost.StartAsync(VersionedGateway(v1.Address, v2.Address));

        using var response = await gateway.Client.GetAsync("/api/products", Ct);

        // RFC 8288 §3: <URI-Reference>; rel="…" — relative to the request's URI, so the client follows it at the gateway.
        Assert.Contains("</api/v2/products>; rel=\"successor-version\"", response.Headers.GetValues("Link"));
    }

    [Fact]
    public async Task DeprecationFields_AreStoredWithTheAnswer_SoACacheHitCarriesThem()
    {
        await using var v1 = await StartV1();
        await using var v2 = await StartV2();
        await using var gateway = await GatewayTestHost.StartAsync(VersionedGateway(v1.Address, v2.Address, cache: "\"Portico.Cache\": \"products\","));

        using var miss = await gateway.Client.GetAsync("/api/products", Ct);
        using var hit = await gateway.Client.GetAsync("/api/products", Ct);

        Assert.Equal("HIT", Field(hit, CachePolicies.ResultHeader));
        Assert.Equal(1, v1.HitsFor("/api/products"));
        Assert.Equal(Field(miss, "Deprecation"), Field(hit, "Deprecation"));
        Assert.NotNull(Field(hit, "Sunset"));
        Assert.Contains("</api/v2/products>; rel=\"successor-version\"", hit.Headers.GetValues("Link"));
    }

    [Fact]
    public async Task WeightedCluster_SplitsRequestsByWeight_CountedAtTheBackends()
    {
        await using var stable = await TestBackend.StartAsync("stable", app => app.MapGet("/api/v2/products", () => Results.Text("stable")));
        await using var canary = await TestBackend.StartAsync("canary", app => app.MapGet("/api/v2/products", () => Results.Text("canary")));
        await using var drained = await TestBackend.StartAsync("drained", app => app.MapGet("/api/v2/products", () => Results.Text("drained")));
        await using var gateway = await GatewayTestHost.StartAsync($$"""
            {
              "ReverseProxy": {
                "Routes": {
                  "products-v2": { "ClusterId": "catalog-v2", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/api/v2/products/{**rest}" } }
                },
                "Clusters": {
                  "catalog-v2": {
                    "LoadBalancingPolicy": "Weighted",
                    "Destinations": {
                      "stable": { "Address": "{{stable.Address}}", "Metadata": { "Portico.Weight": "90" } },
                      "canary": { "Address": "{{canary.Address}}", "Metadata": { "Portico.Weight": "10" } },
                      "drained": { "Address": "{{drained.Address}}", "Metadata": { "Portico.Weight": "0" } }
                    }
                  }
                }
              }
            }
            """);

        // Four callers at once: the split is exact however the requests interleave.
        const int total = 400;
        var ok = 0;
        await Parallel.ForAsync(0, total, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (_, ct) =>
        {
            using var response = await gateway.Client.GetAsync("/api/v2/products", ct);
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref ok);
            }
        });

        Assert.Equal(total, ok);
        Assert.Equal(360, stable.HitsFor("/api/v2/products"));
        Assert.Equal(40, canary.HitsFor("/api/v2/products"));
        Assert.Equal(0, drained.RequestCount);
    }

    [Fact]
    public async Task WeightedCluster_WhenTheCanaryIsDown_SendsEverythingToTheStableVersion()
    {
        await using var stable = await TestBackend.StartAsync("stable", app => app.MapGet("/api/v2/products", () => Results.Text("stable")));
        var canary = await TestBackend.StartAsync("canary", app => app.MapGet("/api/v2/products", () => Results.Text("canary")));
        var canaryAddress = canary.Address;
        await canary.DisposeAsync();
        await using var gateway = await GatewayTestHost.StartAsync($$"""
            {
              "ReverseProxy": {
                "Routes": {
                  "products-v2": { "ClusterId": "catalog-v2", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/api/v2/products/{**rest}" } }
                },
                "Clusters": {
                  "catalog-v2": {
                    "LoadBalancingPolicy": "Weighted",
                    "Destinations": {
                      "stable": { "Address": "{{stable.Address}}", "Metadata": { "Portico.Weight": "1" } },
                      "canary": { "Address": "{{canaryAddress}}", "Metadata": { "Portico.Weight": "1000" } }
                    }
                  }
                }
              }
            }
            """);

        // A refused connection never reached the canary: the gateway sends the request to the stable version instead.
        for (var i = 0; i < 20; i++)
        {
            using var response = await gateway.Client.GetAsync("/api/v2/products", Ct);
            Assert.Equal("stable", await response.Content.ReadAsStringAsync(Ct));
        }
        Assert.Equal(20, stable.HitsFor("/api/v2/products"));
    }

    [Fact]
    public async Task Start_WithBadVersioningMetadata_FailsNamingEachRouteClusterAndKey()
    {
        const string config = """
            {
              "ReverseProxy": {
                "Routes": {
                  "a": { "ClusterId": "plain", "Metadata": { "Portico.Deprecation": "yesterday" }, "Match": { "Path": "/a" } },
                  "b": { "ClusterId": "plain", "Metadata": { "Portico.Deprecation": "2027-01-01", "Portico.Sunset": "2026-01-01" }, "Match": { "Path": "/b" } },
                  "c": { "ClusterId": "plain", "Metadata": { "Portico.SuccessorVersion": "</v2>; rel=x" }, "Match": { "Path": "/c" } },
                  "d": { "ClusterId": "weighted", "Metadata": { "Portico.SuccessorVersion": "ftp://example.com/v2" }, "Match": { "Path": "/d" } },
                  "e": { "ClusterId": "zero", "Match": { "Path": "/e" } }
                },
                "Clusters": {
                  "plain": { "LoadBalancingPolicy": "RoundRobin", "Destinations": { "one": { "Address": "http://127.0.0.1:1", "Metadata": { "Portico.Weight": "5" } } } },
                  "weighted": { "LoadBalancingPolicy": "Weighted", "Destinations": {
                    "one": { "Address": "http://127.0.0.1:1", "Metadata": { "Portico.Weight": "-1" } },
                    "two": { "Address": "http://127.0.0.1:2", "Metadata": { "Portico.Weight": "ten" } } } },
                  "zero": { "LoadBalancingPolicy": "Weighted", "Destinations": { "one": { "Address": "http://127.0.0.1:1", "Metadata": { "Portico.Weight": "0" } } } }
                }
              }
            }
            """;

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(config));

        Assert.Contains("Route 'a': Portico.Deprecation must be an ISO 8601 date", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Route 'b': Portico.Sunset (2026-01-01T00:00:00.0000000+00:00) is earlier than Portico.Deprecation", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Route 'c': Portico.SuccessorVersion must be a path", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Route 'd': Portico.SuccessorVersion must be a path", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Cluster 'plain': destination 'one' has Portico.Weight, which only the \"Weighted\" LoadBalancingPolicy reads", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Cluster 'weighted': destination 'one' Portico.Weight must be a whole number from 0 to 10000, not '-1'.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Cluster 'weighted': destination 'two' Portico.Weight must be a whole number from 0 to 10000, not 'ten'.", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Cluster 'zero': every destination has Portico.Weight 0", ex.Message, StringComparison.Ordinal);
        Assert.Equal(8, ex.Errors.Count);
    }
}

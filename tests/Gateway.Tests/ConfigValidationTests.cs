using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Tests;

public sealed class ConfigValidationTests
{
    [Fact]
    public async Task Start_WithNestedHostSettingOutOfRange_FailsNamingIt()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Portico:HealthChecks:ActivePath"] = "",
            ["Portico:Limits:MaxRequestHeaderCount"] = "0",
        };

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(
            () => GatewayTestHost.StartAsync(GatewayJson.Single("svc", new Uri("http://127.0.0.1:1/")), settings));

        Assert.Equal(2, ex.Failures.Count());
        Assert.Contains(ex.Failures, f => f.Contains("Portico:HealthChecks:ActivePath", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Portico:Limits:MaxRequestHeaderCount", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Portico:Admin:PathPrefix", "portico/", null, null, "Portico:Admin:PathPrefix")]
    [InlineData("Portico:ServiceIdentity:TokenUrl", "identity/token", null, null, "Portico:ServiceIdentity:TokenUrl")]
    [InlineData("Portico:Caching:MemoryLimitBytes", "10", null, null, "Portico:Caching:MemoryLimitBytes")]
    [InlineData("Portico:Caching:PurgeQueue", "no spaces", null, null, "Portico:Caching:PurgeQueue")]
    [InlineData("Portico:Caching:PurgeOn:Nothing.v1:0", "products", null, null, "Portico:Caching:PurgeOn:Nothing.v1")]
    [InlineData("Portico:ServiceIdentity:ClientId", "", null, null, "Portico:ServiceIdentity:ClientId")]
    [InlineData("Portico:AccessLog:BufferBytes", "10", null, null, "Portico:AccessLog:BufferBytes")]
    [InlineData("Portico:AccessLog:FlushInterval", "00:00:00", null, null, "Portico:AccessLog:FlushInterval")]
    [InlineData("Portico:SagaRecovery:Interval", "00:00:00", null, null, "Portico:SagaRecovery:Interval")]
    [InlineData("Portico:HealthChecks:ActiveInterval", "00:00:00", null, null, "Portico:HealthChecks:ActiveInterval")]
    [InlineData("Portico:Limits:MaxRequestHeadersTotalSize", "10", null, null, "Portico:Limits:MaxRequestHeadersTotalSize")]
    [InlineData("Portico:ConfigFile", "", null, null, "Portico:ConfigFile")]
    public async Task Start_WithAHostSettingOutOfShape_FailsNamingIt(string key, string value, string? otherKey, string? otherValue, string expected)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (otherKey is not null)
        {
            settings[otherKey] = otherValue;
        }

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(
            () => GatewayTestHost.StartAsync(GatewayJson.Single("svc", new Uri("http://127.0.0.1:1/")), settings));

        Assert.Contains(ex.Failures, f => f.Contains(expected, StringComparison.Ordinal));
    }

    /// <summary>A route policy written in the host settings would be ignored there: the gateway refuses to start.</summary>
    [Theory]
    [InlineData("Portico:Resilience:Policies:slow:Timeout", "00:00:05", "Portico:Resilience")]
    [InlineData("Portico:RateLimiting:Policies:auth:PermitLimit", "30", "Portico:RateLimiting")]
    [InlineData("Portico:Caching:Policies:weather:Ttl", "00:01:00", "Portico:Caching:Policies")]
    [InlineData("Portico:Transcoding:Services:loyalty:Cluster", "loyalty", "Portico:Transcoding")]
    [InlineData("Portico:Compositions:home:Path", "/api/home", "Portico:Compositions")]
    public async Task Start_WithAGatewayFileSettingInTheHostSettings_FailsNamingItAndItsHome(string key, string value, string expected)
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(
            () => GatewayTestHost.StartAsync(GatewayJson.Single("svc", new Uri("http://127.0.0.1:1/")), new Dictionary<string, string?> { [key] = value }));

        Assert.Contains($"{expected} is read from the gateway file (gateway.json), not from the host settings", Assert.Single(ex.Failures), StringComparison.Ordinal);
    }

    /// <summary>A host setting written in the gateway file would be ignored there: the file is refused.</summary>
    [Theory]
    [InlineData("""{ "Limits": { "MaxRequestHeaderCount": 10 } }""", "Portico:Limits")]
    [InlineData("""{ "Caching": { "PurgeOn": { "ProductChanged.v1": [ "products" ] } } }""", "Portico:Caching:PurgeOn")]
    [InlineData("""{ "Jobs": { "Queues": [ "jobs.x" ] } }""", "Portico:Jobs:Queues")]
    [InlineData("""{ "Security": { "HardeningHeaders": false } }""", "Portico:Security:HardeningHeaders")]
    public async Task Start_WithAHostSettingInTheGatewayFile_FailsNamingIt(string portico, string expected)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(GatewayJson.Single("svc", new Uri("http://127.0.0.1:1/")))!;
        json["Portico"] = System.Text.Json.Nodes.JsonNode.Parse(portico);

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(json.ToJsonString()));

        Assert.Contains(ex.Errors, e => e.StartsWith($"{expected} is a host setting", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_WithCacheSettingsInBothFiles_EachUnderItsHome_Starts()
    {
        // Both files have a Portico:Caching section: the policies are the file's, the memory limit the host's.
        var json = Caching.CacheJson.Create("svc", new Uri("http://127.0.0.1:1/"), new { Ttl = "00:01:00" });

        await using var gateway = await GatewayTestHost.StartAsync(json, new Dictionary<string, string?> { ["Portico:Caching:MemoryLimitBytes"] = "2000000" });

        Assert.Equal(2_000_000, gateway.Services.GetRequiredService<IOptions<global::Portico.Gateway.Caching.CachingOptions>>().Value.MemoryLimitBytes);
    }

    [Fact]
    public async Task Start_WithThreeMistakes_FailsAndNamesAllThree()
    {
        const string config = """
        {
          "ReverseProxy": {
            "Routes": {
              "products": { "ClusterId": "catalog", "Match": { "Path": "/api/products/{**rest}" } },
              "products": { "ClusterId": "catalog", "Match": { "Path": "/api/items/{**rest}" } },
              "orders": { "ClusterId": "ordering", "Match": { "Path": "/api/orders/{**rest}" } }
            },
            "Clusters": {
              "catalog": { "Destinations": { "one": { "Address": "htp//catalog:80" } } }
            }
          }
        }
        """;

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(config));

        Assert.Equal(3, ex.Errors.Count);
        Assert.Contains("Duplicate route id 'products'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unknown cluster 'ordering'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("invalid address 'htp//catalog:80'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithSyntaxError_FailsNamingTheLine()
    {
        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync("{\n  \"ReverseProxy\": {\n    \"Routes\": [\n}"));

        Assert.Contains("line 4", Assert.Single(ex.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithYarpLevelMistakes_ListsThemWithPorticoOnes()
    {
        const string config = """
        {
          "ReverseProxy": {
            "Routes": {
              "r": { "ClusterId": "c", "Match": { "Path": "/r/{**rest}" }, "Order": "first" }
            },
            "Clusters": {
              "c": { "LoadBalancingPolicy": "Fastest", "Destinations": { } }
            }
          }
        }
        """;

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(config));

        Assert.Contains(ex.Errors, e => e.Contains("route 'r'", StringComparison.Ordinal) && e.Contains("Order", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'c' has no destinations", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("Fastest", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Start_WithBadResiliencePolicies_ListsEachProblem()
    {
        const string config = """
        {
          "ReverseProxy": {
            "Routes": {
              "a": { "ClusterId": "c", "Match": { "Path": "/a/{**rest}" }, "Metadata": { "Portico.Resilience": "missing" } },
              "b": { "ClusterId": "c", "Match": { "Path": "/b/{**rest}" }, "Metadata": { "Portico.Resilience": "strict" } }
            },
            "Clusters": { "c": { "Destinations": { "d": { "Address": "http://127.0.0.1:9" } } } }
          },
          "Portico": {
            "Resilience": {
              "Policies": {
                "strict": { "AttemptTimeout": "00:01:00", "Timeout": "00:00:10", "Retry": { "MaxRetries": 50 }, "CircuitBreaker": { "FailureRatio": 2 } }
              }
            }
          }
        }
        """;

        var ex = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(config));

        Assert.Contains(ex.Errors, e => e.Contains("unknown resilience policy 'missing'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("AttemptTimeout must not exceed Timeout", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("MaxRetries", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("FailureRatio", StringComparison.Ordinal));
    }
}

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

        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(
            () => GatewayTestHost.StartAsync(GatewayJson.Single("svc", new Uri("http://127.0.0.1:1/")), settings));

        Assert.Equal(2, ex.Failures.Count());
        Assert.Contains(ex.Failures, f => f.StartsWith("Portico:HealthChecks:", StringComparison.Ordinal) && f.Contains("ActivePath", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("Portico:Limits:", StringComparison.Ordinal) && f.Contains("MaxRequestHeaderCount", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Portico:Admin:PathPrefix", "portico/", null, null, "Portico:Admin:PathPrefix")]
    [InlineData("Portico:Security:Cors:shop:Origins:0", "https://shop.example/path", null, null, "Portico:Security:Cors:shop:Origins")]
    [InlineData("Portico:Security:Cors:open:Origins:0", "*", "Portico:Security:Cors:open:AllowCredentials", "true", "Portico:Security:Cors:open: '*'")]
    [InlineData("Portico:ServiceIdentity:TokenUrl", "identity/token", null, null, "Portico:ServiceIdentity:TokenUrl")]
    [InlineData("Portico:Caching:MemoryLimitBytes", "10", null, null, "Portico:Caching:MemoryLimitBytes")]
    public async Task Start_WithAHostSettingOutOfShape_FailsNamingIt(string key, string value, string? otherKey, string? otherValue, string expected)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (otherKey is not null)
        {
            settings[otherKey] = otherValue;
        }

        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(
            () => GatewayTestHost.StartAsync(GatewayJson.Single("svc", new Uri("http://127.0.0.1:1/")), settings));

        Assert.Contains(ex.Failures, f => f.Contains(expected, StringComparison.Ordinal));
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

using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Routing;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

/// <summary>
/// Each route runs only the steps its configuration uses (issue #19): a plain route none of caching's, rate
/// limiting's or affinity's code, a route with every feature all of them in order, and an edit of the gateway file
/// rebuilds the pipelines without a restart.
/// </summary>
public sealed class RoutePipelineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string File(Uri backend, string plainMetadata) => $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "plain": { "ClusterId": "plain", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/plain/{**rest}", "Methods": [ "GET" ] }{{plainMetadata}} },
              "bare": { "ClusterId": "plain", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/bare/{**rest}" },
                        "Metadata": { "Portico.Resilience": "none" } },
              "full": { "ClusterId": "full", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/full/{**rest}" },
                        "Metadata": { "Portico.Cache": "short", "Portico.RateLimit": "generous", "Portico.Resilience": "retrying" } }
            },
            "Clusters": {
              "plain": { "Destinations": { "d": { "Address": "{{backend}}" } } },
              "full": {
                "SessionAffinity": { "Enabled": true, "Policy": "Cookie", "AffinityKeyName": "aff" },
                "HealthCheck": { "Passive": { "Enabled": true } },
                "Destinations": { "d": { "Address": "{{backend}}" } }
              }
            }
          },
          "Portico": {
            "Caching": { "Policies": { "short": { "Ttl": "00:00:10" } } },
            "RateLimiting": { "Policies": { "generous": { "Kind": "FixedWindow", "PermitLimit": 1000, "Window": "00:01:00" } } },
            "Resilience": { "Policies": { "retrying": { "Retry": { "MaxRetries": 1 } } } }
          }
        }
        """;

    [Fact]
    public async Task EachRoute_RunsOnlyTheStepsItUses_AndAnEditRebuildsThem()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/{**path}", () => "ok"));
        await using var gateway = await GatewayTestHost.StartAsync(File(backend.Address, ""));
        var index = gateway.Services.GetRequiredService<RoutePipelineIndex>();

        foreach (var path in new[] { "/plain/x", "/bare/x", "/full/x" })
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync(path, Ct)).StatusCode);
        }

        // The gateway's defaults (a resilience policy, passive health) apply unless a route or cluster turns them off;
        // nothing else does.
        Assert.Equal(["body-limit", "proxy-problems", "resilience", "load-balancing", "circuit-breaker", "passive-health", "upstream-metrics"], index.StepsOf("plain"));
        // A route that accepts unsafe methods runs the cache step while any route caches: its POST invalidates what a cached
        // route stored for the same URI (RFC 9111 §4.4).
        Assert.Equal(["body-limit", "proxy-problems", "cache", "load-balancing", "passive-health", "upstream-metrics"], index.StepsOf("bare"));
        Assert.Equal(["rate-limit", "body-limit", "proxy-problems", "cache", "session-affinity", "resilience", "load-balancing",
            "circuit-breaker", "passive-health", "upstream-metrics"], index.StepsOf("full"));

        // The plain route takes a cache policy in an edit: its next request runs the cache step, and is cached.
        await gateway.WriteConfigAsync(File(backend.Address, """, "Metadata": { "Portico.Cache": "short" }"""));
        await Poll.UntilAsync(async () =>
        {
            await gateway.Client.GetAsync("/plain/y", Ct);
            return index.StepsOf("plain")?.Contains("cache") == true;
        }, "the edited route's pipeline to gain the cache step");
        var before = backend.HitsFor("/plain/z");
        await gateway.Client.GetAsync("/plain/z", Ct);
        await gateway.Client.GetAsync("/plain/z", Ct);
        Assert.Equal(before + 1, backend.HitsFor("/plain/z"));
    }
}

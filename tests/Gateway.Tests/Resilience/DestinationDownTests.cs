using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Portico.Contracts.Loyalty.V1;
using Portico.Gateway.Tests.Transcoding;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Resilience;

/// <summary>
/// One of two destinations dies in the middle of a run, for each kind of call the gateway makes to a cluster:
/// proxied GETs, composition steps, transcoded gRPC calls and cache refreshes. Every call keeps succeeding, and once a refused
/// connection has taken the dead destination out of load balancing no call of any kind is sent to it again: they
/// all go the same way, through the cluster's load balancing, health, breakers and resilience policy.
/// </summary>
public sealed class DestinationDownTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OneOfTwoDestinationsKilled_EveryKindOfCallKeepsSucceeding_AndNoneGoesToTheDeadOneAgain()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        string svc = "svc-" + suffix, loyalty = "loyalty-" + suffix;
        // /svc/cached is stale as soon as it is stored (max-age=0) but may be served stale while one background
        // refresh runs (RFC 5861): every request for it after the first starts a cache refresh.
        static void MapSvc(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder app, string name)
        {
            app.MapGet("/svc/item", () => name);
            app.MapGet("/svc/cached", (Microsoft.AspNetCore.Http.HttpContext c) =>
            {
                c.Response.Headers.CacheControl = "public, max-age=0, stale-while-revalidate=60";
                return name;
            });
        }
        var a = await TestBackend.StartAsync("a", app => MapSvc(app, "a"), Ct);
        await using var b = await TestBackend.StartAsync("b", app => MapSvc(app, "b"), Ct);
        var balanceA = new GrpcStub<GetBalanceRequest, Balance>(GetBalanceRequest.Parser) { Answer = r => (0, "", new Balance { UserId = r.UserId, Points = 1 }) };
        var balanceB = new GrpcStub<GetBalanceRequest, Balance>(GetBalanceRequest.Parser) { Answer = r => (0, "", new Balance { UserId = r.UserId, Points = 2 }) };
        var la = await TestBackend.StartAsync("la", app => balanceA.Map(app, "/loyalty.v1.Loyalty/GetBalance"), HttpProtocols.Http2, Ct);
        await using var lb = await TestBackend.StartAsync("lb", app => balanceB.Map(app, "/loyalty.v1.Loyalty/GetBalance"), HttpProtocols.Http2, Ct);

        var attempts = new ConcurrentQueue<(string Cluster, string Destination, int Status)>();
        using var listener = ListenToUpstreamAttempts(attempts, svc, loyalty);
        await using var gateway = await GatewayTestHost.StartAsync(Config(svc, [a.Address, b.Address], loyalty, [la.Address, lb.Address]),
            grpcContracts: LoyaltyReflection.Descriptor);
        var token = gateway.Tokens.CreateToken("user-1");

        var failures = new Dictionary<string, int> { ["proxied"] = 0, ["composition"] = 0, ["transcoded"] = 0, ["cached"] = 0 };
        var attemptsBeforeKill = 0;
        var refreshesBeforeKill = 0;
        for (var i = 0; i < 150; i++)
        {
            // Composition first: the cluster client, not a proxied request, is the first to meet the dead destination.
            if (i == 50)
            {
                await a.KillAsync();
                await la.KillAsync();
                attemptsBeforeKill = attempts.Count;
                refreshesBeforeKill = b.HitsFor("/svc/cached");
            }
            using (var composed = await gateway.Client.GetAsync("/combo", Ct))
            {
                failures["composition"] += composed.StatusCode == HttpStatusCode.OK ? 0 : 1;
            }
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/points/balance?userId=user-1");
            request.Headers.Authorization = new("Bearer", token);
            using (var transcoded = await gateway.Client.SendAsync(request, Ct))
            {
                failures["transcoded"] += transcoded.StatusCode == HttpStatusCode.OK ? 0 : 1;
            }
            using (var proxied = await gateway.Client.GetAsync("/svc/item", Ct))
            {
                failures["proxied"] += proxied.StatusCode == HttpStatusCode.OK ? 0 : 1;
            }
            using (var cached = await gateway.Client.GetAsync("/svc/cached", Ct))
            {
                failures["cached"] += cached.StatusCode == HttpStatusCode.OK ? 0 : 1;
            }
        }
        await a.DisposeAsync();
        await la.DisposeAsync();

        var afterKill = attempts.Skip(attemptsBeforeKill).ToList();
        var toDead = afterKill.Where(x => x.Destination is "svc-a" or "loyalty-a").ToList();
        output.WriteLine($"failures: {string.Join(", ", failures.Select(f => $"{f.Key} {f.Value}"))}; attempts after the kill: {afterKill.Count}, " +
            $"to a dead destination: {string.Join(", ", toDead.Select(x => $"{x.Cluster}/{x.Destination} {x.Status}"))}");
        Assert.All(failures, f => Assert.True(f.Value == 0, $"{f.Value} {f.Key} call(s) failed"));
        Assert.True(afterKill.Count > 300, "every call was measured");
        // The first call to find each dead destination is refused (status 0) and retried elsewhere; nothing follows it.
        Assert.True(toDead.Count(x => x.Cluster == svc) <= 1, "the dead svc destination was tried again");
        Assert.True(toDead.Count(x => x.Cluster == loyalty) <= 1, "the dead loyalty destination was tried again");
        Assert.All(toDead, x => Assert.Equal(0, x.Status));
        Assert.True(balanceA.Calls.Count + balanceB.Calls.Count == 150, "each transcoded call ran once");
        // The background refreshes kept going, to the live destination (the dead one is covered by toDead above).
        var refreshesAfterKill = b.HitsFor("/svc/cached") - refreshesBeforeKill;
        Assert.True(refreshesAfterKill >= 20, $"only {refreshesAfterKill} cache refreshes reached the live destination after the kill");
    }

    private static MeterListener ListenToUpstreamAttempts(ConcurrentQueue<(string, string, int)> attempts, params string[] clusters)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Name == "portico.gateway.upstream.duration")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            string? cluster = null, destination = null;
            var status = -1;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case "cluster": cluster = tag.Value as string; break;
                    case "destination": destination = tag.Value as string; break;
                    case "http.response.status_code": status = tag.Value is int s ? s : -1; break;
                }
            }
            if (cluster is not null && clusters.Contains(cluster))
            {
                attempts.Enqueue((cluster, destination ?? "", status));
            }
        });
        listener.Start();
        return listener;
    }

    private static string Config(string svc, Uri[] svcDestinations, string loyalty, Uri[] loyaltyDestinations)
    {
        JsonObject Destinations(string prefix, Uri[] addresses) => new()
        {
            [prefix + "-a"] = new JsonObject { ["Address"] = addresses[0].ToString() },
            [prefix + "-b"] = new JsonObject { ["Address"] = addresses[1].ToString() },
        };
        return new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = new JsonObject
                {
                    ["svc"] = new JsonObject { ["ClusterId"] = svc, ["AuthorizationPolicy"] = "anonymous", ["Match"] = new JsonObject { ["Path"] = "/svc/{**rest}" } },
                    ["cached"] = new JsonObject
                    {
                        ["ClusterId"] = svc, ["AuthorizationPolicy"] = "anonymous", ["Match"] = new JsonObject { ["Path"] = "/svc/cached" },
                        ["Metadata"] = new JsonObject { ["Portico.Cache"] = "standard" },
                    },
                },
                ["Clusters"] = new JsonObject
                {
                    [svc] = new JsonObject { ["LoadBalancingPolicy"] = "RoundRobin", ["Destinations"] = Destinations("svc", svcDestinations) },
                    [loyalty] = new JsonObject
                    {
                        ["LoadBalancingPolicy"] = "RoundRobin",
                        ["HttpRequest"] = new JsonObject { ["Version"] = "2.0", ["VersionPolicy"] = "RequestVersionExact" },
                        ["Destinations"] = Destinations("loyalty", loyaltyDestinations),
                    },
                },
            },
            ["Portico"] = new JsonObject
            {
                ["Caching"] = new JsonObject { ["Policies"] = new JsonObject { ["standard"] = new JsonObject() } },
                ["Transcoding"] = new JsonObject { ["Services"] = new JsonObject { ["loyalty.v1.Loyalty"] = new JsonObject { ["Cluster"] = loyalty } } },
                ["Compositions"] = JsonNode.Parse($$"""
                    { "combo": { "Path": "/combo", "AuthorizationPolicy": "anonymous", "Steps": { "item": { "Cluster": "{{svc}}", "Path": "/svc/item" } } } }
                    """),
            },
        }.ToJsonString();
    }
}

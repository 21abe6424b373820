using System.Net;
using System.Net.Http.Headers;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Admin;

/// <summary>The admin API (issue #24) against a real gateway and real backends.</summary>
public sealed class AdminApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every admin endpoint, with a body where it takes one; the live stream among them.</summary>
    private static readonly (string Method, string Path)[] Endpoints =
    [
        ("GET", "/portico/api/overview"), ("GET", "/portico/api/routes"), ("GET", "/portico/api/clusters"),
        ("POST", "/portico/api/clusters/svc/destinations/svc-0/drain"), ("POST", "/portico/api/clusters/svc/destinations/svc-0/undrain"),
        ("POST", "/portico/api/clusters/svc/destinations/svc-0/reset-breaker"), ("GET", "/portico/api/cache"),
        ("DELETE", "/portico/api/cache?tag=items"), ("GET", "/portico/api/jobs"), ("GET", "/portico/api/config"),
        ("POST", "/portico/api/config/validate"), ("PUT", "/portico/api/config"), ("GET", "/portico/api/config/versions"),
        ("GET", "/portico/api/config/versions/000000000000"), ("POST", "/portico/api/config/versions/000000000000/rollback"),
        ("GET", "/portico/api/live"), ("GET", "/portico/api/transcoding"), ("GET", "/portico/api/openapi.json"),
    ];

    [Fact]
    public async Task EveryAdminEndpoint_RefusesNonAdmins_RemoteCallers_AndTokensInTheQuery()
    {
        var remoteAddress = NonLoopbackAddress();
        if (remoteAddress is null)
        {
            Assert.Skip("This machine has no non-loopback IPv4 address to call the gateway from.");
        }
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address), null, null, remoteAddress);
        var user = gateway.Tokens.CreateToken("u1", ["user"]);
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);

        foreach (var (method, path) in Endpoints)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(gateway.Client, method, path, null)).StatusCode);

            using var forbidden = await SendAsync(gateway.Client, method, path, user);
            Assert.True(forbidden.StatusCode == HttpStatusCode.Forbidden, $"{method} {path} with a user's token: {forbidden.StatusCode}");
            Assert.Equal("application/problem+json", forbidden.Content.Headers.ContentType?.MediaType);

            using var remote = await SendAsync(gateway.RemoteClient!, method, path, admin);
            Assert.True(remote.StatusCode == HttpStatusCode.Forbidden, $"{method} {path} from {remoteAddress} with an admin's token: {remote.StatusCode}");

            using var inQuery = await SendAsync(gateway.Client, method, path + (path.Contains('?') ? "&" : "?") + "access_token=" + admin, admin);
            Assert.True(inQuery.StatusCode == HttpStatusCode.BadRequest, $"{method} {path} with the token in the query: {inQuery.StatusCode}");
            Assert.Contains("access_token", await inQuery.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }
        // The dashboard page is refused to a remote caller as well, token or not.
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.RemoteClient!.GetAsync("/portico/", Ct)).StatusCode);

        // The control: the admin on loopback gets each read, and the live stream opens.
        foreach (var path in new[] { "/portico/api/overview", "/portico/api/routes", "/portico/api/clusters", "/portico/api/cache", "/portico/api/jobs", "/portico/api/config", "/portico/api/config/versions",
            "/portico/api/transcoding", "/portico/api/openapi.json" })
        {
            using var ok = await SendAsync(gateway.Client, "GET", path, admin);
            Assert.True(ok.StatusCode == HttpStatusCode.OK, $"GET {path} as admin: {ok.StatusCode}");
        }
        using var live = await SendAsync(gateway.Client, "GET", "/portico/api/live", admin);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal("text/event-stream", live.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Drain_SendsNoNewRequestsToTheDestination_InFlightOnesFinish_AndRequestsKeepSucceeding()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await TestBackend.StartAsync("a", app =>
        {
            app.MapGet("/items/{id}", (string id) => "a" + id);
            app.MapGet("/items/slow", async () =>
            {
                await release.Task;
                return "a-slow";
            });
        });
        await using var b = await TestBackend.StartAsync("b", app => app.MapGet("/items/{id}", (string id) => "b" + id));
        await using var gateway = await GatewayTestHost.StartAsync(Config(a.Address, b.Address, loadBalancing: "RoundRobin"));
        var admin = gateway.Tokens.CreateToken("ops-1", ["admin"]);
        Assert.Equal("instance", (await GetJsonAsync(gateway, admin, "/portico/api/overview"))["drainScope"]!.GetValue<string>());

        // Until destination a holds a slow request (round robin sends every other one to it; b answers fast).
        Task<HttpResponseMessage>? slow = null;
        while (a.HitsFor("/items/slow") == 0)
        {
            slow = gateway.Client.GetAsync("/items/slow", Ct);
            await Poll.UntilAsync(() => a.HitsFor("/items/slow") > 0 || slow.IsCompleted, "the slow request to arrive somewhere");
        }

        using var drained = await SendAsync(gateway.Client, "POST", "/portico/api/clusters/svc/destinations/svc-0/drain", admin);
        Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        // No shared store: the answer says the drain is this instance's alone.
        Assert.Equal("instance", JsonNode.Parse(await drained.Content.ReadAsStringAsync(Ct))!["scope"]!.GetValue<string>());
        var destination = await DestinationAsync(gateway, admin, "svc", "svc-0");
        Assert.True(destination["drained"]!.GetValue<bool>());
        Assert.Equal("drained", destination["status"]!.GetValue<string>());
        Assert.Equal(1, destination["concurrentRequests"]!.GetValue<int>()); // the slow one, still in flight

        var before = a.RequestCount;
        for (var i = 0; i < 20; i++)
        {
            using var response = await gateway.Client.GetAsync($"/items/{i}", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("b" + i, await response.Content.ReadAsStringAsync(Ct));
        }
        Assert.Equal(before, a.RequestCount);

        release.SetResult();
        using (var finished = await slow!)
        {
            Assert.Equal(HttpStatusCode.OK, finished.StatusCode);
            Assert.Equal("a-slow", await finished.Content.ReadAsStringAsync(Ct));
        }

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway.Client, "POST", "/portico/api/clusters/svc/destinations/svc-0/undrain", admin)).StatusCode);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync($"/items/again-{i}", Ct)).StatusCode); // new paths: not cached
        }
        Assert.True(a.RequestCount > before, "an undrained destination takes requests again");

        var audit = gateway.Logs.GetSnapshot().Where(r => r.Category?.EndsWith("AdminAudit", StringComparison.Ordinal) == true).Select(r => r.Message).ToList();
        Assert.Contains(audit, m => m.Contains("ops-1", StringComparison.Ordinal) && m.Contains("drain", StringComparison.Ordinal) && m.Contains("svc/svc-0", StringComparison.Ordinal));
        Assert.Contains(audit, m => m.Contains("ops-1", StringComparison.Ordinal) && m.Contains("undrain", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(gateway.Client, "POST", "/portico/api/clusters/svc/destinations/nope/drain", admin)).StatusCode);
    }

    [Fact]
    public async Task ValidateConfig_WithTwoErrors_ListsBoth_AndChangesNothing()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        var original = Config(backend.Address);
        await using var gateway = await GatewayTestHost.StartAsync(original);
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);
        var version = (await GetJsonAsync(gateway, admin, "/portico/api/config"))["version"]!.GetValue<string>();

        // Two mistakes: a route to a cluster that does not exist, and a cache policy with a negative lifetime.
        var broken = original
            .Replace("\"ClusterId\": \"svc\"", "\"ClusterId\": \"missing\"", StringComparison.Ordinal)
            .Replace("\"Ttl\": \"00:01:00\"", "\"Ttl\": \"-00:00:05\"", StringComparison.Ordinal);

        using var validate = await SendAsync(gateway.Client, "POST", "/portico/api/config/validate", admin, broken);
        Assert.Equal(HttpStatusCode.OK, validate.StatusCode);
        var result = JsonNode.Parse(await validate.Content.ReadAsStringAsync(Ct))!;
        Assert.False(result["valid"]!.GetValue<bool>());
        var errors = result["errors"]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        Assert.Contains(errors, e => e.Contains("missing", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Ttl must be positive", StringComparison.Ordinal));

        using var put = await SendAsync(gateway.Client, "PUT", "/portico/api/config", admin, broken);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, put.StatusCode);
        Assert.Equal("application/problem+json", put.Content.Headers.ContentType?.MediaType);
        var problem = await put.Content.ReadAsStringAsync(Ct);
        Assert.Contains("missing", problem, StringComparison.Ordinal);
        Assert.Contains("Ttl must be positive", problem, StringComparison.Ordinal);

        Assert.Equal(original, await File.ReadAllTextAsync(gateway.ConfigPath, Ct));
        Assert.Equal(version, (await GetJsonAsync(gateway, admin, "/portico/api/config"))["version"]!.GetValue<string>());
        Assert.Single((await GetJsonAsync(gateway, admin, "/portico/api/config/versions")).AsArray());
        Assert.Equal("1", await gateway.Client.GetStringAsync("/items/1", Ct));
    }

    [Fact]
    public async Task PutConfig_Valid_IsWrittenToTheFile_AddsARouteThatServes_AndRollsBack()
    {
        await using var backend = await TestBackend.StartAsync("svc", app =>
        {
            app.MapGet("/items/{id}", (string id) => id);
            app.MapGet("/extra/{id}", (string id) => "extra" + id);
        });
        var original = Config(backend.Address);
        await using var gateway = await GatewayTestHost.StartAsync(original);
        var admin = gateway.Tokens.CreateToken("ops-2", ["admin"]);
        var first = (await GetJsonAsync(gateway, admin, "/portico/api/config"))["version"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client.GetAsync("/extra/1", Ct)).StatusCode);

        var withExtra = original.Replace("\"Routes\": {", """
            "Routes": {
                  "extra": { "ClusterId": "svc", "AuthorizationPolicy": "anonymous", "Match": { "Path": "/extra/{**rest}" } },
            """, StringComparison.Ordinal);

        // An edit made against an older version is refused, not merged.
        using (var stale = await SendAsync(gateway.Client, "PUT", "/portico/api/config", admin, withExtra, ifMatch: "0123456789ab"))
        {
            Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        }

        using var put = await SendAsync(gateway.Client, "PUT", "/portico/api/config", admin, withExtra, ifMatch: first);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var applied = JsonNode.Parse(await put.Content.ReadAsStringAsync(Ct))!;
        var second = applied["version"]!.GetValue<string>();
        Assert.NotEqual(first, second);
        Assert.Equal("ops-2", applied["by"]!.GetValue<string>());
        Assert.Equal(withExtra, await File.ReadAllTextAsync(gateway.ConfigPath, Ct)); // survives a restart: it is the file
        await Poll.UntilAsync(async () => (await gateway.Client.GetAsync("/extra/7", Ct)).StatusCode == HttpStatusCode.OK, "the added route to serve");
        Assert.Equal("extra7", await gateway.Client.GetStringAsync("/extra/7", Ct));

        var versions = (await GetJsonAsync(gateway, admin, "/portico/api/config/versions")).AsArray();
        Assert.Equal([second, first], versions.Select(v => v!["version"]!.GetValue<string>()));

        using var rollback = await SendAsync(gateway.Client, "POST", $"/portico/api/config/versions/{first}/rollback", admin);
        Assert.Equal(HttpStatusCode.OK, rollback.StatusCode);
        Assert.Equal(original, await File.ReadAllTextAsync(gateway.ConfigPath, Ct));
        await Poll.UntilAsync(async () => (await gateway.Client.GetAsync("/extra/7", Ct)).StatusCode == HttpStatusCode.NotFound, "the rolled-back route to go");

        var audit = gateway.Logs.GetSnapshot().Where(r => r.Category?.EndsWith("AdminAudit", StringComparison.Ordinal) == true).Select(r => r.Message).ToList();
        Assert.Contains(audit, m => m.Contains("ops-2", StringComparison.Ordinal) && m.Contains("apply-config", StringComparison.Ordinal) && m.Contains(second, StringComparison.Ordinal));
        Assert.Contains(audit, m => m.Contains("ops-2", StringComparison.Ordinal) && m.Contains("rollback-config", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GatewayFile_IsShownWithSecretsMasked_AndAMaskedEditKeepsTheSecret()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        var original = Config(backend.Address).Replace("\"LoadBalancingPolicy\"",
            "\"Metadata\": { \"ApiKey\": \"s3cret-value\", \"Owner\": \"team-a\" },\n        \"LoadBalancingPolicy\"", StringComparison.Ordinal);
        await using var gateway = await GatewayTestHost.StartAsync(original);
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);

        var shown = (await GetJsonAsync(gateway, admin, "/portico/api/config"))["text"]!.GetValue<string>();
        Assert.DoesNotContain("s3cret-value", shown, StringComparison.Ordinal);
        Assert.Contains("\"ApiKey\": \"********\"", shown, StringComparison.Ordinal);
        Assert.Contains("team-a", shown, StringComparison.Ordinal);

        using var put = await SendAsync(gateway.Client, "PUT", "/portico/api/config", admin, shown.Replace("team-a", "team-b", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var written = await File.ReadAllTextAsync(gateway.ConfigPath, Ct);
        Assert.Contains("s3cret-value", written, StringComparison.Ordinal);
        Assert.Contains("team-b", written, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CachePolicies_ShowHitRatioAndEntries_AndPurgeByPrefixEmptiesThem()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address));
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);
        foreach (var path in new[] { "/items/1", "/items/1", "/items/2" })
        {
            Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync(path, Ct)).StatusCode);
        }

        var policy = (await GetJsonAsync(gateway, admin, "/portico/api/cache")).AsArray().Single()!;
        Assert.Equal("items", policy["policy"]!.GetValue<string>());
        Assert.Equal(2, policy["entries"]!.GetValue<int>());
        Assert.Equal(1, policy["hits"]!.GetValue<long>());
        Assert.Equal(3, policy["lookups"]!.GetValue<long>());
        Assert.True(policy["bytes"]!.GetValue<long>() > 0);

        using (var bad = await SendAsync(gateway.Client, "DELETE", "/portico/api/cache?prefix=items", admin))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
        using var purge = await SendAsync(gateway.Client, "DELETE", "/portico/api/cache?prefix=/items", admin);
        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        Assert.Equal(2, JsonNode.Parse(await purge.Content.ReadAsStringAsync(Ct))!["removedHere"]!.GetValue<int>());
        Assert.Equal(0, (await GetJsonAsync(gateway, admin, "/portico/api/cache")).AsArray().Single()!["entries"]!.GetValue<int>());
        var before = backend.RequestCount;
        await gateway.Client.GetAsync("/items/1", Ct);
        Assert.Equal(before + 1, backend.RequestCount);
    }

    [Fact]
    public async Task LiveStream_SendsPerRouteFigures_AndADestinationEventWhenDrained()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address));
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);
        using var stream = await SendAsync(gateway.Client, "GET", "/portico/api/live", admin);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(Ct));
        var first = await NextEventAsync(reader);
        Assert.Equal("snapshot", first.Type);

        for (var i = 0; i < 5; i++)
        {
            await gateway.Client.GetAsync($"/items/live-{i}", Ct); // distinct paths: each goes to the backend
        }
        var counted = 0;
        SampledSeen? sampled = null;
        while (counted < 5)
        {
            var (type, data) = await NextEventAsync(reader);
            if (type != "figures")
            {
                continue;
            }
            var route = data["routes"]!.AsArray().FirstOrDefault(r => r!["route"]!.GetValue<string>() == "items");
            counted += route?["requests"]!.GetValue<int>() ?? 0;
            Assert.DoesNotContain(data["routes"]!.AsArray(), r => r!["route"]!.GetValue<string>().Contains("portico", StringComparison.OrdinalIgnoreCase));
            if (data["samples"]!.AsArray().FirstOrDefault(s => s!["route"]?.GetValue<string>() == "items") is { } sample)
            {
                sampled = new SampledSeen(sample["status"]!.GetValue<int>(), sample["path"]!.GetValue<string>(), sample.AsObject().Select(p => p.Key).ToList());
            }
        }
        Assert.Equal(5, counted);
        Assert.NotNull(sampled);
        Assert.Equal(200, sampled.Status);
        Assert.DoesNotContain(sampled.Fields, f => f.Contains("header", StringComparison.OrdinalIgnoreCase) || f.Contains("body", StringComparison.OrdinalIgnoreCase));

        await SendAsync(gateway.Client, "POST", "/portico/api/clusters/svc/destinations/svc-0/drain", admin);
        while (true)
        {
            var (type, data) = await NextEventAsync(reader);
            // Health changes come as events too (the first probe's answer, say); the drain is one of them.
            if (type == "destination" && data["destination"]!["status"]!.GetValue<string>() == "drained")
            {
                Assert.StartsWith("svc-0[", data["destination"]!["destinationId"]!.GetValue<string>(), StringComparison.Ordinal);
                Assert.True(data["destination"]!["drained"]!.GetValue<bool>());
                break;
            }
        }
    }

    [Fact]
    public async Task LiveStream_EndsCleanlyWhenTheGatewayStops_RatherThanHoldingTheShutdown()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        var gateway = await GatewayTestHost.StartAsync(Config(backend.Address));
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);
        using var stream = await SendAsync(gateway.Client, "GET", "/portico/api/live", admin);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync(Ct));
        Assert.Equal("snapshot", (await NextEventAsync(reader)).Type);

        var stopping = gateway.DisposeAsync().AsTask();
        // The stream finishes (end of body, not an aborted connection); before the fix it stayed open until the
        // host's shutdown timeout cut it, so this read threw.
        string? line;
        while ((line = await reader.ReadLineAsync(Ct)) is not null)
        {
            Assert.DoesNotContain("error", line, StringComparison.OrdinalIgnoreCase);
        }
        await stopping;
    }

    [Fact]
    public async Task Transcoding_ListsEachServiceWithItsDescriptorSource_LoadedAt_AndEachMethodsHttpRoutes()
    {
        var folder = Directory.CreateTempSubdirectory("portico-admin-grpc-").FullName;
        var descriptorSet = Path.Combine(folder, "things.binpb");
        await File.WriteAllBytesAsync(descriptorSet, Transcoding.ThingsServer.DescriptorSet(), Ct);
        var config = $$"""
            {
              "ReverseProxy": {
                "Routes": {},
                "Clusters": {
                  "things": { "Destinations": { "a": { "Address": "http://127.0.0.1:1/" } } },
                  "missing": { "Destinations": { "a": { "Address": "http://127.0.0.1:1/" } } }
                }
              },
              "Portico": {
                "Transcoding": {
                  "Services": {
                    "portico.test.v1.Things": { "Cluster": "things", "DescriptorSet": {{JsonSerializer.Serialize(descriptorSet)}}, "ConventionRoutes": true, "AuthorizationPolicy": "anonymous" },
                    "portico.test.v1.Gone": { "Cluster": "missing", "Reflection": true, "PathPrefix": "/api/gone" }
                  }
                }
              }
            }
            """;
        var before = DateTimeOffset.UtcNow;
        await using var gateway = await GatewayTestHost.StartAsync(config);
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);

        var services = (await GetJsonAsync(gateway, admin, "/portico/api/transcoding")).AsArray();
        var things = services.Single(s => s!["service"]!.GetValue<string>() == "portico.test.v1.Things")!;
        Assert.Equal(("loaded", "descriptor-set", "things.binpb", "things"),
            (things["status"]!.GetValue<string>(), things["source"]!.GetValue<string>(), things["sourceFile"]!.GetValue<string>(), things["cluster"]!.GetValue<string>()));
        var loadedAt = things["loadedAt"]!.GetValue<DateTimeOffset>();
        Assert.InRange(loadedAt, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));

        string[] Bindings(string method) => [.. things["methods"]!.AsArray().Single(m => m!["name"]!.GetValue<string>() == method)!["bindings"]!.AsArray()
            .Select(b => b!["method"]!.GetValue<string>() + " " + b["path"]!.GetValue<string>())];
        // The rule, its additional binding (a variable over two segments, shown as the rule writes it), the convention route.
        Assert.Equal(["GET /api/things/{id}", "GET /api/{shelf=shelves/*}/things/{id}", "POST /portico.test.v1.Things/GetThing"], Bindings("GetThing"));
        Assert.Equal(["POST /portico.test.v1.Things/Hidden"], Bindings("Hidden"));
        var create = things["methods"]!.AsArray().Single(m => m!["name"]!.GetValue<string>() == "CreateThing")!;
        var rule = create["bindings"]!.AsArray()[0]!;
        Assert.Equal(("POST /api/shelves/{shelf}/things", "thing", "thing"),
            (rule["method"]!.GetValue<string>() + " " + rule["path"]!.GetValue<string>(), rule["body"]!.GetValue<string>(), rule["responseBody"]!.GetValue<string>()));
        Assert.Equal("server-streaming", things["methods"]!.AsArray().Single(m => m!["name"]!.GetValue<string>() == "ListThings")!["kind"]!.GetValue<string>());
        Assert.Equal("portico.test.v1.GetThingRequest", things["methods"]!.AsArray().Single(m => m!["name"]!.GetValue<string>() == "GetThing")!["input"]!.GetValue<string>());

        // Reflection from a cluster that does not answer: known, pending, never loaded.
        var gone = services.Single(s => s!["service"]!.GetValue<string>() == "portico.test.v1.Gone")!;
        Assert.Equal(("pending", "reflection", "/api/gone"), (gone["status"]!.GetValue<string>(), gone["source"]!.GetValue<string>(), gone["pathPrefix"]!.GetValue<string>()));
        Assert.Null(gone["loadedAt"]);
        Assert.Empty(gone["methods"]!.AsArray());
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public async Task Jobs_ShowEachRoutesQueueDepths_FromTheBroker()
    {
        using var store = GarnetTestServer.Start();
        const string config = """
            {
              "ReverseProxy": { "Routes": {}, "Clusters": {} },
              "Portico": { "Jobs": { "mine": { "Path": "/api/test/mine", "Queue": "jobs.depth" } } }
            }
            """;
        await using var gateway = await GatewayTestHost.StartAsync(config, new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = store.ConnectionString,
            ["Portico:Jobs:Queues:0"] = "jobs.depth",
            ["Messaging:PollInterval"] = "00:00:00.05",
        });
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);
        var user = gateway.Tokens.CreateToken("u1", ["user"]);

        // No worker consumes the in-queue: each accepted job's request waits there.
        for (var i = 0; i < 2; i++)
        {
            using var accepted = await SendAsync(gateway.Client, "POST", "/api/test/mine", user);
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        JsonNode route = null!;
        await Poll.UntilAsync(async () =>
        {
            route = (await GetJsonAsync(gateway, admin, "/portico/api/jobs"))["routes"]!.AsArray().Single()!;
            return route["inQueueDepth"]?["waiting"]?.GetValue<long>() == 2;
        }, "the two job requests to be counted in the in-queue");
        Assert.Equal("jobs.depth.in", route["inQueue"]!.GetValue<string>());
        Assert.Equal(0, route["inQueueDepth"]!["consumers"]!.GetValue<int>());
        // The gateway itself consumes the out-queue, which holds nothing.
        Assert.Equal(0, route["outQueueDepth"]!["waiting"]!.GetValue<long>());
        Assert.True(route["outQueueDepth"]!["consumers"]!.GetValue<int>() >= 1);
        var jobs = await GetJsonAsync(gateway, admin, "/portico/api/jobs");
        Assert.Equal("redis", jobs["transport"]!.GetValue<string>());
        Assert.Null(jobs["queueDepthsUnavailable"]);
    }

    [Fact]
    public async Task Drain_WithASharedStore_AppliesOnEveryInstance_AndAnInstanceStartedLaterLearnsIt()
    {
        using var store = GarnetTestServer.Start();
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString };
        await using var a = await TestBackend.StartAsync("a", app => app.MapGet("/items/{id}", (string id) => "a" + id));
        await using var b = await TestBackend.StartAsync("b", app => app.MapGet("/items/{id}", (string id) => "b" + id));
        var config = Config(a.Address, b.Address, loadBalancing: "RoundRobin");
        await using var first = await GatewayTestHost.StartAsync(config, settings);
        await using var second = await GatewayTestHost.StartAsync(config, settings);
        var admin = first.Tokens.CreateToken("ops-3", ["admin"]);
        var adminOfSecond = second.Tokens.CreateToken("ops-3", ["admin"]);
        Assert.Equal("all-instances", (await GetJsonAsync(first, admin, "/portico/api/overview"))["drainScope"]!.GetValue<string>());

        using (var drained = await SendAsync(first.Client, "POST", "/portico/api/clusters/svc/destinations/svc-0/drain", admin))
        {
            Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
            Assert.Equal("all-instances", JsonNode.Parse(await drained.Content.ReadAsStringAsync(Ct))!["scope"]!.GetValue<string>());
        }
        await Poll.UntilAsync(async () => (await DestinationAsync(second, adminOfSecond, "svc", "svc-0"))["drained"]!.GetValue<bool>(),
            "the other instance to drain the destination too");
        var before = a.RequestCount;
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal("b" + i, await second.Client.GetStringAsync($"/items/{i}", Ct));
        }
        Assert.Equal(before, a.RequestCount);

        // Started after the drain: it reads the drains in force while starting, before its first request.
        await using var third = await GatewayTestHost.StartAsync(config, settings);
        Assert.True((await DestinationAsync(third, third.Tokens.CreateToken("ops-3", ["admin"]), "svc", "svc-0"))["drained"]!.GetValue<bool>());
        Assert.Equal("b-late", await third.Client.GetStringAsync("/items/-late", Ct));

        // Undrained on another instance than the one that drained it: back everywhere.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(second.Client, "POST", "/portico/api/clusters/svc/destinations/svc-0/undrain", adminOfSecond)).StatusCode);
        await Poll.UntilAsync(async () => !(await DestinationAsync(first, admin, "svc", "svc-0"))["drained"]!.GetValue<bool>(),
            "the first instance to undrain the destination");
        await Poll.UntilAsync(async () => (await DestinationAsync(third, third.Tokens.CreateToken("ops-3", ["admin"]), "svc", "svc-0"))["status"]!.GetValue<string>() != "drained",
            "the third instance to undrain the destination");
        for (var i = 0; i < 4; i++)
        {
            await first.Client.GetStringAsync($"/items/back-{i}", Ct);
        }
        Assert.True(a.RequestCount > before, "an undrained destination takes requests again");
    }

    [Fact]
    public async Task Drain_WhoseAnnouncementWasLost_TakesEffectAtTheNextResync()
    {
        using var store = GarnetTestServer.Start();
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address), time,
            new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString });
        var admin = gateway.Tokens.CreateToken("ops-4", ["admin"]);

        // Another instance's drain reached the store, but its pub/sub announcement never arrived here.
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(store.ConnectionString);
        const string field = """["svc","svc-0"]""";
        await redis.GetDatabase().HashSetAsync("portico:drains", field, DateTimeOffset.UtcNow.ToString("O"));
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False((await DestinationAsync(gateway, admin, "svc", "svc-0"))["drained"]!.GetValue<bool>());

        time.Advance(TimeSpan.FromSeconds(1));
        await Poll.UntilAsync(async () => (await DestinationAsync(gateway, admin, "svc", "svc-0"))["drained"]!.GetValue<bool>(),
            "the resync to read the drain from the store");

        // And an undrain whose announcement was lost, likewise.
        await redis.GetDatabase().HashDeleteAsync("portico:drains", field);
        time.Advance(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () => !(await DestinationAsync(gateway, admin, "svc", "svc-0"))["drained"]!.GetValue<bool>(),
            "the resync to read the undrain from the store");
    }

    [Fact]
    public async Task Drain_WhenTheSharedStoreIsDown_Answers503_AndDrainsNothing()
    {
        var store = GarnetTestServer.Start();
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address), new Dictionary<string, string?> { ["ConnectionStrings:store"] = store.ConnectionString });
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);

        store.Dispose();

        using var response = await SendAsync(gateway.Client, "POST", "/portico/api/clusters/svc/destinations/svc-0/drain", admin);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False((await DestinationAsync(gateway, admin, "svc", "svc-0"))["drained"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.OK, (await gateway.Client.GetAsync("/items/still-served", Ct)).StatusCode);
    }

    [Fact]
    public async Task AdminOpenApi_DescribesEveryAdminEndpoint_WithItsShapes_AndThePublicDocumentHasNone()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/items/{id}", (string id) => id));
        await using var gateway = await GatewayTestHost.StartAsync(Config(backend.Address));
        var admin = gateway.Tokens.CreateToken("a1", ["admin"]);

        var document = await GetJsonAsync(gateway, admin, "/portico/api/openapi.json");
        Assert.StartsWith("3.1", document["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        var paths = document["paths"]!.AsObject();

        // Every endpoint the admin API maps, as routing has it: one added without a description fails here.
        var mapped = MappedEndpoints(gateway)
            .Where(e => e.Pattern.StartsWith("/portico/api/", StringComparison.Ordinal) && e.Pattern != "/portico/api/openapi.json")
            .ToList();
        Assert.True(mapped.Count >= 17, $"only {mapped.Count} admin endpoints found");
        foreach (var (method, pattern) in mapped)
        {
            var operation = paths[pattern]?[method.ToLowerInvariant()];
            Assert.True(operation is not null, $"{method} {pattern} is not in the admin OpenAPI document");
            var ok = operation["responses"]?["200"];
            Assert.True(ok?["content"] is JsonObject { Count: > 0 }, $"{method} {pattern} has no described 200 answer");
            Assert.NotNull(operation["responses"]!["403"]);
            Assert.Equal("admin", operation["security"]![0]!["Bearer"]![0]!.GetValue<string>());
        }
        Assert.Equal(mapped.Count, paths.Sum(p => p.Value!.AsObject().Count(o => o.Key is "get" or "post" or "put" or "delete")));

        // Shapes: the drain's answer names its scope; a config edit takes a JSON body.
        var drainSchema = paths["/portico/api/clusters/{clusterId}/destinations/{destinationId}/drain"]!["post"]!["responses"]!["200"]!["content"]!["application/json"]!["schema"]!;
        var drainShape = Resolve(document, drainSchema);
        Assert.Contains("scope", drainShape["properties"]!.AsObject().Select(p => p.Key));
        Assert.NotNull(paths["/portico/api/config"]!["put"]!["requestBody"]!["content"]!["application/json"]);
        Assert.NotNull(paths["/portico/api/live"]!["get"]!["responses"]!["200"]!["content"]!["text/event-stream"]);

        // The public document is the gateway file's routes: nothing of the admin surface.
        var merged = JsonNode.Parse(await gateway.Client.GetStringAsync("/openapi/v1.json", Ct))!;
        Assert.NotEmpty(merged["paths"]!.AsObject());
        Assert.DoesNotContain(merged["paths"]!.AsObject(), p => p.Key.StartsWith("/portico", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>What routing has mapped on a gateway: each endpoint's method and route pattern.</summary>
    private static List<(string Method, string Pattern)> MappedEndpoints(GatewayTestHost gateway) =>
        [.. gateway.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (m, "/" + e.RoutePattern.RawText!.TrimStart('/'))))];

    private static JsonNode Resolve(JsonNode document, JsonNode schema) =>
        schema["$ref"]?.GetValue<string>() is { } reference
            ? document["components"]!["schemas"]![reference[(reference.LastIndexOf('/') + 1)..]]!
            : schema;

    private sealed record SampledSeen(int Status, string Path, List<string> Fields);

    /// <summary>One route <c>/items/{**rest}</c> (anonymous, cached by policy "items") to cluster <c>svc</c>.</summary>
    private static string Config(Uri first, Uri? second = null, string loadBalancing = "PowerOfTwoChoices") =>
        $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "items": { "ClusterId": "svc", "AuthorizationPolicy": "anonymous", "Metadata": { "Portico.Cache": "items" }, "Match": { "Path": "/items/{**rest}" } }
            },
            "Clusters": {
              "svc": {
                "LoadBalancingPolicy": "{{loadBalancing}}",
                "Destinations": {
                  "svc-0": { "Address": "{{first}}" }{{(second is null ? "" : $$""", "svc-1": { "Address": "{{second}}" }""")}}
                }
              }
            }
          },
          "Portico": {
            "Caching": { "Policies": { "items": { "Ttl": "00:01:00", "Tags": [ "items" ] } } }
          }
        }
        """;

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path, string? token, string? body = null, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", $"\"{ifMatch}\"");
        }
        if (body is not null || method is "PUT" or "POST")
        {
            request.Content = new StringContent(body ?? "{}", Encoding.UTF8, "application/json");
        }
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
    }

    private static async Task<JsonNode> GetJsonAsync(GatewayTestHost gateway, string token, string path)
    {
        using var response = await SendAsync(gateway.Client, "GET", path, token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
    }

    private static async Task<JsonNode> DestinationAsync(GatewayTestHost gateway, string token, string cluster, string destination) =>
        (await GetJsonAsync(gateway, token, "/portico/api/clusters")).AsArray()
            .Single(c => c!["clusterId"]!.GetValue<string>() == cluster)!["destinations"]!.AsArray()
            .Single(d => d!["destinationId"]!.GetValue<string>().StartsWith(destination + "[", StringComparison.Ordinal))!; // as service discovery resolved it

    /// <summary>Reads one server-sent event (RFC: WHATWG HTML §9.2): its type and its JSON data.</summary>
    private static async Task<(string Type, JsonNode Data)> NextEventAsync(StreamReader reader)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        string type = "message";
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0)
                {
                    return (type, JsonNode.Parse(data.ToString())!);
                }
                continue;
            }
            if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                type = line[6..].Trim();
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                data.Append(line[5..].TrimStart());
            }
        }
        throw new InvalidOperationException("The live stream ended.");
    }

    private static IPAddress? NonLoopbackAddress() =>
        NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
}


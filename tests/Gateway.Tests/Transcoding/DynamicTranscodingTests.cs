using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Portico.Gateway.Tests.Transcoding.Protos;

namespace Portico.Gateway.Tests.Transcoding;

/// <summary>
/// A gRPC service added to the gateway by its gateway file alone: the gateway host registers no contract (the test host
/// is started without any), and learns the service by server reflection or from a descriptor-set file.
/// </summary>
public sealed class DynamicTranscodingTests(ITestOutputHelper output)
{
    private const string Service = "portico.test.v1.Things";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A gateway file with the things cluster over HTTP/2 and its transcoding entry (<paramref name="entry"/> adds to it).</summary>
    internal static string Config(Uri things, JsonObject? entry = null, JsonObject? transcoding = null)
    {
        var service = new JsonObject { ["Cluster"] = "things", ["Reflection"] = true, ["AuthorizationPolicy"] = "anonymous" };
        foreach (var (key, value) in entry ?? [])
        {
            service[key] = value?.DeepClone();
        }
        transcoding ??= [];
        transcoding["Services"] = new JsonObject { [Service] = service };
        return new JsonObject
        {
            ["ReverseProxy"] = new JsonObject
            {
                ["Routes"] = new JsonObject(),
                ["Clusters"] = new JsonObject
                {
                    ["things"] = new JsonObject
                    {
                        ["HttpRequest"] = new JsonObject { ["Version"] = "2.0", ["VersionPolicy"] = "RequestVersionExact" },
                        ["Destinations"] = new JsonObject { ["a"] = new JsonObject { ["Address"] = things.ToString() } },
                    },
                },
            },
            ["Portico"] = new JsonObject { ["Transcoding"] = transcoding },
        }.ToJsonString();
    }

    internal static async Task<(HttpStatusCode Status, string Body, string? Type)> SendAsync(GatewayTestHost gateway, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var response = await gateway.Client.SendAsync(request, Ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Ct), response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task ServiceKnownByReflectionAlone_IsServed_ByItsHttpRules_AndTheConventionRoute()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, new JsonObject { ["ConventionRoutes"] = true }));

        var echo = """{"fInt64":"-5","fColor":"RED","rString":["a","b"],"mBool":{"true":"yes"},"timestamp":"2024-02-29T12:00:00.500Z","any":{"@type":"type.googleapis.com/portico.test.v1.Thing","name":"n"},"cThing":{"id":"1"}}""";
        var (status, body, _) = await SendAsync(gateway, HttpMethod.Post, "/api/things/echo", echo);
        output.WriteLine(body);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(echo), JsonNode.Parse(body)), body);

        // Path variable and query parameter; then the additional binding, whose {shelf=shelves/*} takes two segments.
        (status, body, _) = await SendAsync(gateway, HttpMethod.Get, "/api/things/42?verbose=true");
        Assert.Equal((HttpStatusCode.OK, """{"id":"42","name":"thing 42","color":"RED"}"""), (status, body));
        (status, body, _) = await SendAsync(gateway, HttpMethod.Get, "/api/shelves/s7/things/9");
        Assert.Equal((HttpStatusCode.OK, """{"id":"9","color":"RED","shelf":"shelves/s7"}"""), (status, body));

        // body: "thing" (the JSON is that field) and response_body: "thing" (the reply is that field).
        (status, body, _) = await SendAsync(gateway, HttpMethod.Post, "/api/shelves/top/things", """{"id":"3","name":"box"}""");
        Assert.Equal((HttpStatusCode.OK, """{"id":"3","name":"box","shelf":"top"}"""), (status, body));

        // No HTTP rule: only the opt-in convention route reaches it.
        (status, body, _) = await SendAsync(gateway, HttpMethod.Post, $"/{Service}/Hidden", """{"name":"secret"}""");
        Assert.Equal((HttpStatusCode.OK, """{"name":"secret"}"""), (status, body));
    }

    [Fact]
    public async Task ServiceAddedToTheRunningGatewaysFile_IsServed_WithoutARestart()
    {
        await using var things = await ThingsServer.StartAsync();
        var before = JsonNode.Parse(Config(things.Address))!;
        before["Portico"]!["Transcoding"] = new JsonObject();
        await using var gateway = await GatewayTestHost.StartAsync(before.ToJsonString());
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(gateway, HttpMethod.Get, "/api/things/3")).Status);

        await gateway.WriteConfigAsync(Config(things.Address)); // as an operator edits the file

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        (HttpStatusCode Status, string Body, string? Type) answer;
        do
        {
            await Task.Delay(100, Ct);
            answer = await SendAsync(gateway, HttpMethod.Get, "/api/things/3");
        }
        while (answer.Status != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal((HttpStatusCode.OK, """{"id":"3","color":"RED"}"""), (answer.Status, answer.Body));
    }

    [Fact]
    public async Task Call_CarriesTheValidatedCallersIdentity_TokenAndTraceContext_NotHeadersTheClientMadeUp()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, new JsonObject { ["AuthorizationPolicy"] = null }));
        var token = gateway.Tokens.CreateToken("user-5", roles: ["admin"]);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/things/2");
        request.Headers.Authorization = new("Bearer", token);
        request.Headers.Add("X-User-Id", "somebody-else");
        using var response = await gateway.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = Assert.Single(things.Service.Headers);
        Assert.Equal("user-5", headers.GetValue("x-user-id"));
        Assert.Equal("admin", headers.GetValue("x-user-roles"));
        Assert.Equal("Bearer " + token, headers.GetValue("authorization"));
        Assert.Single(headers, h => h.Key == "x-user-id");
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", headers.GetValue("traceparent"));
    }

    [Fact]
    public async Task ServerStreaming_IsNewlineDelimitedJson_AsMessagesArrive_EndingWithTheErrorLine()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address));

        var (status, body, type) = await SendAsync(gateway, HttpMethod.Get, "/api/things?count=3&prefix=t");
        Assert.Equal((HttpStatusCode.OK, "application/x-ndjson"), (status, type));
        Assert.Equal("""{"id":"1","name":"t1"}""" + "\n" + """{"id":"2","name":"t2"}""" + "\n" + """{"id":"3","name":"t3"}""" + "\n", body);

        (status, body, _) = await SendAsync(gateway, HttpMethod.Get, "/api/things?count=1&failWith=14");
        output.WriteLine(body);
        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal("UNAVAILABLE", JsonNode.Parse(lines[1])!["error"]!["status"]!.GetValue<string>());

        // Failing before any message: an ordinary problem answer with the mapped status.
        (status, _, type) = await SendAsync(gateway, HttpMethod.Get, "/api/things?count=0&failWith=5");
        Assert.Equal((HttpStatusCode.NotFound, "application/problem+json"), (status, type));
    }

    [Fact]
    public async Task ServerStreaming_SendsEachMessage_BeforeTheServiceHasSentTheNext()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address));

        using var response = await gateway.Client.GetAsync("/api/things?count=2&prefix=hold", HttpCompletionOption.ResponseHeadersRead, Ct);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        var first = await reader.ReadLineAsync(Ct); // the service holds the second thing back until released

        Assert.Equal("""{"id":"1","name":"hold1"}""", first);
        things.Service.Release.SetResult();
        Assert.Equal("""{"id":"2","name":"hold2"}""", await reader.ReadLineAsync(Ct));
    }

    [Fact]
    public async Task GrpcError_TheServicesStatusDetails_AreInTheProblem()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address));

        var (status, body, type) = await SendAsync(gateway, HttpMethod.Get, "/api/things/404");

        output.WriteLine(body);
        Assert.Equal((HttpStatusCode.NotFound, "application/problem+json"), (status, type));
        var details = JsonNode.Parse(body)!["grpcStatus"]!["details"]!.AsArray();
        var resource = Assert.Single(details)!;
        Assert.Equal("type.googleapis.com/google.rpc.ResourceInfo", resource["@type"]!.GetValue<string>());
        Assert.Equal("thing", resource["resourceType"]!.GetValue<string>());
    }

    [Fact]
    public async Task ServerStreaming_AsAJsonArray_WhenTheEntrySaysSo()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, new JsonObject { ["Streaming"] = "array" }));

        var (status, body, _) = await SendAsync(gateway, HttpMethod.Get, "/api/things?count=2");

        Assert.Equal((HttpStatusCode.OK, """[{"id":"1","name":"1"},{"id":"2","name":"2"}]"""), (status, body));
    }

    [Theory]
    [InlineData("/api/things/echo", """{"fInt32": "many"}""", "fInt32")]
    [InlineData("/api/things/echo", """{"fInt32": 1e10}""", "fInt32")]
    [InlineData("/api/things/echo", """{"fColor": "PURPLE"}""", "fColor")]
    [InlineData("/api/things/echo", """{"unknownField": 1}""", "unknownField")]
    [InlineData("/api/things/echo", """{"fThing": {"parts": [{"color": true}]}}""", "fThing.parts[0].color")]
    [InlineData("/api/things/echo", """{"fString": "a",""", "is not valid JSON")]
    [InlineData("/api/things/x1", null, "id")]
    [InlineData("/api/things/1?nope=2", null, "nope")]
    public async Task BadRequests_Get400NamingTheField_AndNothingIsSent(string path, string? json, string expected)
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address));

        var (status, body, type) = await SendAsync(gateway, json is null ? HttpMethod.Get : HttpMethod.Post, path, json);

        output.WriteLine(body);
        Assert.Equal((HttpStatusCode.BadRequest, "application/problem+json"), (status, type));
        Assert.Contains(expected, body, StringComparison.Ordinal);
        Assert.Empty(things.Service.Calls);
    }

    [Fact]
    public async Task UnknownFields_AreDropped_WhereTheEntryAllowsThem()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, new JsonObject { ["IgnoreUnknownFields"] = true }));

        var (status, body, _) = await SendAsync(gateway, HttpMethod.Post, "/api/things/echo", """{"unknownField": 1, "fInt32": 4}""");

        Assert.Equal((HttpStatusCode.OK, """{"fInt32":4}"""), (status, body));
    }

    [Fact]
    public async Task ReflectionV1Alpha_IsAskedWhenTheServerHasNoV1()
    {
        await using var things = await ThingsServer.StartAsync(ReflectionMode.V1AlphaOnly);
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address));

        var (status, body, _) = await SendAsync(gateway, HttpMethod.Get, "/api/things/5");

        Assert.Equal((HttpStatusCode.OK, """{"id":"5","color":"RED"}"""), (status, body));
    }

    [Fact]
    public async Task DescriptorSetFile_ServesTheService_WithReflectionOff()
    {
        await using var things = await ThingsServer.StartAsync(ReflectionMode.None);
        var file = Path.Combine(Directory.CreateTempSubdirectory("portico-binpb-").FullName, "things.binpb");
        await File.WriteAllBytesAsync(file, ThingsServer.DescriptorSet(), Ct);
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, new JsonObject { ["Reflection"] = false, ["DescriptorSet"] = file }));

        var (status, body, _) = await SendAsync(gateway, HttpMethod.Get, "/api/things/6");

        Assert.Equal((HttpStatusCode.OK, """{"id":"6","color":"RED"}"""), (status, body));
    }

    [Fact]
    public async Task Start_WithAMissingDescriptorSetFile_Fails()
    {
        var error = await Assert.ThrowsAsync<Configuration.GatewayConfigurationException>(() => GatewayTestHost.StartAsync(
            Config(new Uri("http://127.0.0.1:1/"), new JsonObject { ["Reflection"] = false, ["DescriptorSet"] = "/nonexistent/things.binpb" })));

        output.WriteLine(error.Message);
        Assert.Contains("DescriptorSet '/nonexistent/things.binpb' cannot be used", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServiceDownAtStart_Answers503UnderItsPrefix_ThenIsServedOnceItComesUp()
    {
        var port = FreePort();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var address = new Uri($"http://127.0.0.1:{port}/");
        await using var gateway = await GatewayTestHost.StartAsync(Config(address, new JsonObject { ["PathPrefix"] = "/api" }), time);

        var (status, body, type) = await SendAsync(gateway, HttpMethod.Get, "/api/things/1");
        output.WriteLine(body);
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "application/problem+json"), (status, type));
        Assert.Contains(Service, body, StringComparison.Ordinal);

        await using var things = await ThingsServer.StartAsync(port: port);
        // The retry comes after RetryInterval (and the refused destination's passive-health reactivation): moved on by
        // the gateway's clock, polled until the descriptors are in.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        do
        {
            time.Advance(TimeSpan.FromSeconds(2));
            await Task.Delay(100, Ct);
            (status, body, _) = await SendAsync(gateway, HttpMethod.Get, "/api/things/1");
        }
        while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal((HttpStatusCode.OK, """{"id":"1","color":"RED"}"""), (status, body));
    }

    [Fact]
    public async Task Refresh_PicksUpANewMethod_WithoutARestart()
    {
        await using var things = await ThingsServer.StartAsync();
        things.Reflection.Serve(ThingsServer.ContractWithout("Hidden"));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, new JsonObject { ["ConventionRoutes"] = true },
            new JsonObject { ["RefreshInterval"] = "00:00:30" }), time);
        var (status, _, _) = await SendAsync(gateway, HttpMethod.Post, $"/{Service}/Hidden", "{}");
        Assert.Equal(HttpStatusCode.NotFound, status);

        things.Reflection.Serve(Things.Descriptor); // the service is redeployed with a new method
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        do
        {
            time.Advance(TimeSpan.FromSeconds(10));
            await Task.Delay(100, Ct);
            (status, _, _) = await SendAsync(gateway, HttpMethod.Post, $"/{Service}/Hidden", """{"id":"8"}""");
        }
        while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task ServiceDown_IsAnswered503_AndADeadlinePassed504()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("portico-binpb-").FullName, "things.binpb");
        await File.WriteAllBytesAsync(file, ThingsServer.DescriptorSet(), Ct);
        var down = new Uri($"http://127.0.0.1:{FreePort()}/");
        await using (var gateway = await GatewayTestHost.StartAsync(Config(down, new JsonObject { ["Reflection"] = false, ["DescriptorSet"] = file })))
        {
            var (status, body, type) = await SendAsync(gateway, HttpMethod.Get, "/api/things/1");
            output.WriteLine(body);
            Assert.Equal((HttpStatusCode.ServiceUnavailable, "application/problem+json"), (status, type));
        }

        await using var things = await ThingsServer.StartAsync();
        await using (var gateway = await GatewayTestHost.StartAsync(Config(things.Address, new JsonObject { ["Timeout"] = "00:00:00.300" })))
        {
            var (status, body, type) = await SendAsync(gateway, HttpMethod.Get, "/api/wait/1");
            output.WriteLine(body);
            Assert.Equal((HttpStatusCode.GatewayTimeout, "application/problem+json"), (status, type));
            Assert.Contains("DEADLINE_EXCEEDED", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task CompositionStep_CallsAServiceKnownByReflection()
    {
        await using var things = await ThingsServer.StartAsync();
        var config = JsonNode.Parse(Config(things.Address))!;
        config["Portico"]!["Compositions"] = JsonNode.Parse($$$"""
        { "pair": { "Path": "/api/pair/{id}", "AuthorizationPolicy": "anonymous", "Steps": {
            "one": { "Cluster": "things", "Grpc": "{{{Service}}}/GetThing", "Body": { "id": "{{request.route.id}}", "verbose": true } },
            "echo": { "Cluster": "things", "Grpc": "{{{Service}}}/Echo", "Body": { "fString": "{{steps.one.body.name}}" } } },
          "Response": { "thing": "{{steps.one.body}}", "echoed": "{{steps.echo.body.fString}}" } } }
        """);
        await using var gateway = await GatewayTestHost.StartAsync(config.ToJsonString());

        using var response = await gateway.Client.GetAsync("/api/pair/12", Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        output.WriteLine(body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("thing 12", json.RootElement.GetProperty("echoed").GetString());
        Assert.Equal("12", json.RootElement.GetProperty("thing").GetProperty("id").GetString());
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

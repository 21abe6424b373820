using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Portico.Gateway.Tests.Transcoding;
using Portico.Gateway.Tests.Transcoding.Protos;
using Portico.Tests.Common;
using Portico.Tests.OpenApi;

namespace Portico.Gateway.Tests.OpenApi;

/// <summary>
/// The transcoded gRPC methods in the gateway's merged document: a real gRPC service (things.proto, learnt by server
/// reflection) behind a real gateway, its REST routes described from the descriptors by the proto3 JSON mapping, and
/// the JSON the gateway actually reads and writes checked against those schemas with a JSON Schema 2020-12 validator.
/// </summary>
public sealed class TranscodedOpenApiTests
{
    private const string Service = "portico.test.v1.Things";
    private const string Components = "#/components/schemas/";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Config(Uri things, string? policy, string refresh = "00:01:00") => new JsonObject
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
        ["Portico"] = new JsonObject
        {
            ["Transcoding"] = new JsonObject
            {
                ["RefreshInterval"] = refresh,
                ["Services"] = new JsonObject
                {
                    [Service] = new JsonObject { ["Cluster"] = "things", ["Reflection"] = true, ["ConventionRoutes"] = true, ["AuthorizationPolicy"] = policy },
                },
            },
        },
    }.ToJsonString();

    /// <summary>The document once the service's descriptors have come (reflection runs in the background after start).</summary>
    private static async Task<JsonObject> DocumentWithAsync(GatewayTestHost gateway, string path)
    {
        JsonObject? json = null;
        await Poll.UntilAsync(async () => (json = (await MergedOpenApiTests.ReadAsync(gateway.Client)).Json)["paths"]!.AsObject().ContainsKey(path), $"{path} in the merged document");
        return json!;
    }

    private static JsonNode Schema(JsonNode operation, string status = "200", string type = "application/json") =>
        operation["responses"]![status]!["content"]![type]!["schema"]!;

    private static void AssertJson(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"Expected {expected}\nActual   {actual?.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })}");

    private static JsonNode RequestSchema(JsonNode operation) => operation["requestBody"]!["content"]!["application/json"]!["schema"]!;

    [Fact]
    public async Task EachTranscodedRoute_AppearsWithItsVerbPathParametersBodyReplyAndSecurity()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, policy: null));

        var json = await DocumentWithAsync(gateway, "/api/things/{id}");

        var paths = json["paths"]!.AsObject();
        string[] convention = [.. new[] { "ArchiveThing", "CreateThing", "Echo", "GetThing", "Hidden", "ListThings", "Wait" }.Select(m => $"/{Service}/{m}")];
        Assert.Equal(
            new[] { "/api/shelves/{shelf}/things", "/api/shelves/{shelf}/things/{id}", "/api/things", "/api/things/echo", "/api/things/{id}", "/api/things/{id}:archive", "/api/things:archiveAll", "/api/wait/{id}" }.Concat(convention).Order(StringComparer.Ordinal),
            paths.Select(p => p.Key).Order(StringComparer.Ordinal));

        // get: "/api/things/{id}": the path variable is a parameter named by its field, typed as the field (int64: a string);
        // the request's other fields are query parameters. No policy: a signed-in caller.
        var get = paths["/api/things/{id}"]!["get"]!;
        Assert.Equal(["get"], paths["/api/things/{id}"]!.AsObject().Select(p => p.Key));
        AssertJson("""[{"name":"id","in":"path","required":true,"schema":{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}},""" +
            """{"name":"shelf","in":"query","required":false,"schema":{"type":"string"}},{"name":"verbose","in":"query","required":false,"schema":{"type":"boolean"}}]""",
            get["parameters"]);
        Assert.Equal("""[{"Bearer":[]}]""", get["security"]!.ToJsonString());
        Assert.NotNull(get["responses"]!["401"]);
        Assert.Equal(Components + "portico.test.v1.Thing", Schema(get)["$ref"]!.GetValue<string>());
        Assert.Equal("portico.test.v1.Things.GetThing", get["operationId"]!.GetValue<string>());
        Assert.Equal("portico.test.v1.Things.GetThing", get["x-portico-grpc"]!["method"]!.GetValue<string>());

        // The additional binding get: "/api/{shelf=shelves/*}/things/{id}": shelf is "shelves/" and the segment.
        var bound = paths["/api/shelves/{shelf}/things/{id}"]!["get"]!;
        Assert.Equal(["shelf", "id", "verbose"], bound["parameters"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()));
        Assert.Contains("shelves/{shelf}", bound["parameters"]![0]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("portico.test.v1.Things.GetThing.2", bound["operationId"]!.GetValue<string>());

        // body: "thing" and response_body: "thing": the body is that field's message, and so is the reply.
        var create = paths["/api/shelves/{shelf}/things"]!["post"]!;
        Assert.Equal(Components + "portico.test.v1.Thing", RequestSchema(create)["$ref"]!.GetValue<string>());
        Assert.Equal(Components + "portico.test.v1.Thing", Schema(create)["$ref"]!.GetValue<string>());
        Assert.Equal(["shelf"], create["parameters"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()));
        Assert.Equal("thing", create["x-portico-grpc"]!["responseBody"]!.GetValue<string>());

        // body: "*": the whole request message, and no query parameters.
        var echo = paths["/api/things/echo"]!["post"]!;
        Assert.Equal(Components + "portico.test.v1.Everything", RequestSchema(echo)["$ref"]!.GetValue<string>());
        Assert.Empty(echo["parameters"]!.AsArray());

        // A server stream: one message per line.
        var list = paths["/api/things"]!["get"]!;
        Assert.Equal(Components + "portico.test.v1.Thing", Schema(list, type: "application/x-ndjson")["$ref"]!.GetValue<string>());
        Assert.Equal(["count", "prefix", "failWith"], list["parameters"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()));
        Assert.Equal("integer", list["parameters"]![0]!["schema"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task MessageSchemas_FollowTheProto3JsonMapping_AndFitWhatTheGatewayReadsAndWrites()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, policy: "anonymous"));
        var json = await DocumentWithAsync(gateway, "/api/things/echo");
        var schemas = json["components"]!["schemas"]!.AsObject();
        var everything = schemas["portico.test.v1.Everything"]!["properties"]!;
        void Property(string expected, string property) => AssertJson(expected, everything[property]);

        Assert.Empty(json["paths"]!["/api/things/echo"]!["post"]!["security"]!.AsArray()); // anonymous
        Property("""{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}""", "fInt64");
        Assert.Equal("uint64", everything["fFixed64"]!["format"]!.GetValue<string>());
        Property("""{"type":"integer","format":"int32"}""", "fSint32");
        Assert.Equal("base64", everything["fBytes"]!["contentEncoding"]!.GetValue<string>());
        Property($$"""{"$ref":"{{Components}}portico.test.v1.Color"}""", "fColor");
        AssertJson("""{"type":"string","enum":["COLOR_UNSPECIFIED","RED","GREEN","ULTRAVIOLET"]}""", schemas["portico.test.v1.Color"]);
        Property("""{"type":"array","items":{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}}""", "rInt64");
        Property("""{"type":"object","additionalProperties":{"type":"string"},"propertyNames":{"pattern":"^-?[0-9]+$"}}""", "mInt32");
        Assert.Equal("""{"enum":["true","false"]}""", everything["mBool"]!["propertyNames"]!.ToJsonString());
        Assert.Equal("date-time", everything["timestamp"]!["format"]!.GetValue<string>());
        Assert.Equal("string", everything["duration"]!["type"]!.GetValue<string>());
        Assert.Equal("""["integer","null"]""", everything["wInt32"]!["type"]!.ToJsonString());
        Assert.Equal("""["string","null"]""", everything["wInt64"]!["type"]!.ToJsonString());
        Assert.Contains("""{"type":"null"}""", everything["wDouble"]!["anyOf"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal("object", everything["struct"]!["type"]!.GetValue<string>());
        Assert.Equal("array", everything["list"]!["type"]!.GetValue<string>());
        Assert.Equal("string", everything["mask"]!["type"]!.GetValue<string>());
        Assert.Equal("""["@type"]""", everything["any"]!["required"]!.ToJsonString());
        Property("""{"type":"null"}""", "nullValue");
        Assert.False(schemas["google.protobuf.Empty"]!["additionalProperties"]!.GetValue<bool>());
        // A recursive message refers to itself; a oneof allows one of its fields or none.
        Assert.Equal(Components + "portico.test.v1.Thing", schemas["portico.test.v1.Thing"]!["properties"]!["parts"]!["items"]!["$ref"]!.GetValue<string>());
        Assert.Equal(6, schemas["portico.test.v1.Everything"]!["allOf"]![0]!["oneOf"]!.AsArray().Count);

        // What the gateway reads and writes fits: a request with every kind of field, and the gateway's echo of it.
        var validator = new OpenApiJsonSchema(json);
        var operation = json["paths"]!["/api/things/echo"]!["post"]!;
        const string request = """
            {"fDouble":"NaN","fFloat":1.5,"fInt32":-3,"fInt64":"-5","fUint64":"18446744073709551615","fBytes":"AQI=","fColor":"RED","oInt32":0,
             "rString":["a","b"],"rInt64":["1","-2"],"rColor":["GREEN"],"rThing":[{"id":"1","parts":[{"id":"2","color":"ULTRAVIOLET"}]}],
             "mInt32":{"5":"five"},"mBool":{"true":"yes"},"mString":{"k":{"name":"n"}},"mValue":{"v":[1,"x",null]},
             "cThing":{"id":"9"},"timestamp":"2024-02-29T12:00:00.500Z","duration":"-1.5s","wInt32":3,"wInt64":"4","wString":"s","wBytes":"AA==",
             "struct":{"a":[1,"x",{"b":null}]},"value":{"c":true},"list":[1,"a"],"mask":"fInt64,fThing.name",
             "any":{"@type":"type.googleapis.com/portico.test.v1.Thing","name":"n"},"empty":{},"rTimestamp":["2024-01-01T00:00:00Z"]}
            """;
        Assert.Empty(validator.Errors(RequestSchema(operation), request));
        using var answer = await gateway.Client.PostAsync("/api/things/echo", new StringContent(request, Encoding.UTF8, "application/json"), Ct);
        var body = await answer.Content.ReadAsStringAsync(Ct);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Empty(validator.Errors(Schema(operation), body));

        // And the schemas can fail: an unknown enum name, a 64-bit number not written as a string, two fields of a oneof, a scalar for a list.
        Assert.NotEmpty(validator.Errors(RequestSchema(operation), """{"fColor":"PURPLE"}"""));
        Assert.NotEmpty(validator.Errors(RequestSchema(operation), """{"fInt64":5}"""));
        Assert.NotEmpty(validator.Errors(RequestSchema(operation), """{"cString":"a","cInt64":"1"}"""));
        Assert.NotEmpty(validator.Errors(RequestSchema(operation), """{"rString":"a"}"""));
        Assert.NotEmpty(validator.Errors(RequestSchema(operation), """{"any":{"name":"no type"}}"""));
    }

    [Fact]
    public async Task NewDescriptors_AreMergedIntoTheDocument_WithoutARestart()
    {
        await using var things = await ThingsServer.StartAsync();
        things.Reflection.Serve(ThingsServer.ContractWithout("Hidden"));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, policy: "anonymous", refresh: "00:00:30"), time);
        var before = await DocumentWithAsync(gateway, "/api/things/{id}");
        Assert.False(before["paths"]!.AsObject().ContainsKey($"/{Service}/Hidden"));

        things.Reflection.Serve(Things.Descriptor); // the service is redeployed with a new method
        await Poll.UntilAsync(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(10));
            return (await MergedOpenApiTests.ReadAsync(gateway.Client)).Json["paths"]!.AsObject().ContainsKey($"/{Service}/Hidden");
        }, "the new method in the merged document");
    }

    [Fact]
    public async Task AServiceOfAHiddenPolicy_IsLeftOut()
    {
        await using var things = await ThingsServer.StartAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(things.Address, policy: "admin"));
        // The routes are served (to admins) once the descriptors are in; the document still has none of them.
        await Poll.UntilAsync(async () =>
        {
            using var answer = await gateway.Client.GetAsync("/api/things/1", Ct);
            return answer.StatusCode == HttpStatusCode.Unauthorized;
        }, "the transcoded route to be served");

        var (_, json) = await MergedOpenApiTests.ReadAsync(gateway.Client);
        Assert.Empty(json["paths"]!.AsObject());
        Assert.DoesNotContain("portico.test.v1", json.ToJsonString(), StringComparison.Ordinal);
    }
}

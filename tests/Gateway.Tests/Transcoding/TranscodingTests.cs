using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Portico.Contracts.Loyalty.V1;
using Portico.Gateway.Configuration;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Transcoding;

public sealed class TranscodingTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly GrpcStub<GetBalanceRequest, Balance> _balance = new(GetBalanceRequest.Parser);
    private readonly GrpcStub<AccrueRequest, AccrueReply> _accrue = new(AccrueRequest.Parser);

    private Task<TestBackend> StartLoyaltyAsync() =>
        TestBackend.StartAsync("loyalty", map: MapLoyalty, protocols: HttpProtocols.Http2, cancellationToken: Ct);

    private void MapLoyalty(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder app)
    {
        _balance.Map(app, "/loyalty.v1.Loyalty/GetBalance");
        _accrue.Map(app, "/loyalty.v1.Loyalty/Accrue");
    }

    /// <summary>A gateway file with the loyalty cluster over HTTP/2, Loyalty transcoded, and whatever <paramref name="portico"/> adds.</summary>
    private static string Config(Uri loyalty, Uri? ordering = null, string service = "loyalty.v1.Loyalty", string cluster = "loyalty")
    {
        var clusters = new JsonObject
        {
            ["loyalty"] = new JsonObject
            {
                ["HttpRequest"] = new JsonObject { ["Version"] = "2.0", ["VersionPolicy"] = "RequestVersionExact" },
                ["Destinations"] = new JsonObject { ["a"] = new JsonObject { ["Address"] = loyalty.ToString() } },
            },
        };
        if (ordering is not null)
        {
            clusters["ordering"] = new JsonObject { ["Destinations"] = new JsonObject { ["a"] = new JsonObject { ["Address"] = ordering.ToString() } } };
        }
        return new JsonObject
        {
            ["ReverseProxy"] = new JsonObject { ["Routes"] = new JsonObject(), ["Clusters"] = clusters },
            ["Portico"] = new JsonObject
            {
                ["Transcoding"] = new JsonObject { ["Services"] = new JsonObject { [service] = new JsonObject { ["Cluster"] = cluster } } },
            },
        }.ToJsonString();
    }

    private static HttpRequestMessage Get(string path, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new("Bearer", token);
        }
        return request;
    }

    [Fact]
    public async Task RestGet_BecomesAGrpcCall_WithQueryFieldsAndTheCallersToken_AndTheReplyComesBackAsJson()
    {
        await using var loyalty = await StartLoyaltyAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(loyalty.Address), grpcContracts: LoyaltyReflection.Descriptor);
        _balance.Answer = request => (0, "", new Balance { UserId = request.UserId, Points = 120 });
        var token = gateway.Tokens.CreateToken("user-9");

        using var response = await gateway.Client.SendAsync(Get("/api/points/balance?userId=user-9", token), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        output.WriteLine(body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("user-9", json.RootElement.GetProperty("userId").GetString());
        Assert.Equal("120", json.RootElement.GetProperty("points").GetString()); // int64 as a string: the proto3 JSON mapping
        var (request, authorization) = Assert.Single(_balance.Calls);
        Assert.Equal("user-9", request.UserId);
        Assert.Equal("Bearer " + token, authorization);
    }

    [Theory]
    [InlineData("/api/points/balance?nope=1", "'nope' is not a field")]
    [InlineData("/api/points/balance?userId=a&userId=b", "must be given once")]
    public async Task BadParameters_Get400NamingThem_AndNothingIsSent(string path, string expected)
    {
        await using var loyalty = await StartLoyaltyAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(loyalty.Address), grpcContracts: LoyaltyReflection.Descriptor);

        using var response = await gateway.Client.SendAsync(Get(path, gateway.Tokens.CreateToken()), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(expected, body, StringComparison.Ordinal);
        Assert.Empty(_balance.Calls);
    }

    [Theory]
    [InlineData(3, HttpStatusCode.BadRequest)]
    [InlineData(5, HttpStatusCode.NotFound)]
    [InlineData(7, HttpStatusCode.Forbidden)]
    [InlineData(13, HttpStatusCode.BadGateway)]
    [InlineData(14, HttpStatusCode.ServiceUnavailable)]
    public async Task GrpcErrors_BecomeProblemJson_WithTheMatchingHttpStatus(int grpcStatus, HttpStatusCode expected)
    {
        await using var loyalty = await StartLoyaltyAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(loyalty.Address), grpcContracts: LoyaltyReflection.Descriptor);
        _balance.Answer = _ => (grpcStatus, "why it failed", null);

        using var response = await gateway.Client.SendAsync(Get("/api/points/balance", gateway.Tokens.CreateToken()), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("why it failed", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TranscodedRoute_WithoutPolicy_NeedsAToken()
    {
        await using var loyalty = await StartLoyaltyAsync();
        await using var gateway = await GatewayTestHost.StartAsync(Config(loyalty.Address), grpcContracts: LoyaltyReflection.Descriptor);

        using var response = await gateway.Client.SendAsync(Get("/api/points/balance", null), Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(_balance.Calls);
    }

    [Fact]
    public async Task Start_WithAnUnknownServiceOrCluster_FailsListingBoth()
    {
        var error = await Assert.ThrowsAsync<GatewayConfigurationException>(() =>
            GatewayTestHost.StartAsync(Config(new Uri("http://127.0.0.1:1/"), service: "nope.v1.Nope", cluster: "missing"), grpcContracts: LoyaltyReflection.Descriptor));

        output.WriteLine(error.Message);
        Assert.Contains("unknown cluster 'missing'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'nope.v1.Nope'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WithAnUnknownGrpcMethodOrIdentity_InACompositionStep_FailsListingBoth()
    {
        var config = JsonNode.Parse(Config(new Uri("http://127.0.0.1:1/")))!;
        config["Portico"]!["Compositions"] = JsonNode.Parse("""
        { "c": { "Path": "/c", "Steps": {
            "a": { "Cluster": "loyalty", "Grpc": "loyalty.v1.Loyalty/Nope" },
            "b": { "Cluster": "loyalty", "Grpc": "loyalty.v1.Loyalty/Accrue", "Identity": "root" } } } }
        """);

        var error = await Assert.ThrowsAsync<GatewayConfigurationException>(() =>
            GatewayTestHost.StartAsync(config.ToJsonString(), grpcContracts: LoyaltyReflection.Descriptor));

        output.WriteLine(error.Message);
        Assert.Contains("unknown gRPC method 'loyalty.v1.Loyalty/Nope'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Identity must be", error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The shop's purchase: create the order with the caller's token, then accrue over gRPC with the gateway's own
    /// service token (from a stand-in Identity); if accrual fails the order is cancelled.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Purchase_CreatesTheOrder_AccruesAsTheService_OrCancelsTheOrderWhenAccrualFails(bool loyaltyUp)
    {
        var cancelled = new ConcurrentBag<string>();
        await using var ordering = await TestBackend.StartAsync("ordering", app =>
        {
            app.MapPost("/api/orders", () => Results.Json(new { id = "ord-7", status = "Placed", total = 25000 }, statusCode: 201));
            app.MapPost("/api/orders/{id}/cancel", (string id) =>
            {
                cancelled.Add(id);
                return Results.Ok();
            });
        }, Ct);
        await using var identity = await TestBackend.StartAsync("identity", app => app.MapPost("/api/auth/token", async (HttpRequest r) =>
        {
            using var body = await JsonDocument.ParseAsync(r.Body);
            return body.RootElement.GetProperty("client_secret").GetString() == "s3cret-for-tests-only-0123456789ab"
                ? Results.Json(new { access_token = "service-token", token_type = "Bearer", expires_in = 900 })
                : Results.Unauthorized();
        }), Ct);
        await using var loyalty = await StartLoyaltyAsync();
        _accrue.Answer = request => loyaltyUp ? (0, "", new AccrueReply { PointsEarned = request.Amount / 100, Balance = 250 }) : (14, "ledger down", null);

        var config = JsonNode.Parse(Config(loyalty.Address, ordering.Address))!;
        config["Portico"]!["Compositions"] = JsonNode.Parse("""
        { "purchase": { "Method": "POST", "Path": "/api/purchases", "Steps": {
            "order": { "Cluster": "ordering", "Method": "POST", "Path": "/api/orders", "Body": { "items": "{{request.body.items}}" },
                       "Compensate": { "Method": "POST", "Path": "/api/orders/{{steps.order.body.id}}/cancel" } },
            "points": { "Cluster": "loyalty", "Grpc": "loyalty.v1.Loyalty/Accrue", "Identity": "service",
                        "Body": { "userId": "{{user.sub}}", "orderId": "{{steps.order.body.id}}", "amount": "{{steps.order.body.total}}" } } },
          "Response": { "order": "{{steps.order.body}}", "points": "{{steps.points.body}}" } } }
        """);
        await using var gateway = await GatewayTestHost.StartAsync(config.ToJsonString(), new Dictionary<string, string?>
        {
            ["Portico:ServiceIdentity:TokenUrl"] = new Uri(identity.Address, "/api/auth/token").ToString(),
            ["Portico:ServiceIdentity:ClientSecret"] = "s3cret-for-tests-only-0123456789ab",
        }, LoyaltyReflection.Descriptor);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/purchases") { Content = JsonContent.Create(new { items = new[] { new { productId = 1, quantity = 1 } } }) };
        request.Headers.Authorization = new("Bearer", gateway.Tokens.CreateToken("user-3"));
        using var response = await gateway.Client.SendAsync(request, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        output.WriteLine(body);

        var (accrued, authorization) = Assert.Single(_accrue.Calls);
        Assert.Equal("Bearer service-token", authorization); // the gateway's identity, not the user's
        Assert.Equal(("user-3", "ord-7", 25000L), (accrued.UserId, accrued.OrderId, accrued.Amount));
        using var json = JsonDocument.Parse(body);
        if (loyaltyUp)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ord-7", json.RootElement.GetProperty("order").GetProperty("id").GetString());
            Assert.Equal("250", json.RootElement.GetProperty("points").GetProperty("pointsEarned").GetString());
            Assert.Empty(cancelled);
        }
        else
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("points", json.RootElement.GetProperty("step").GetString());
            Assert.Contains("UNAVAILABLE", json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Equal(["ord-7"], cancelled);
        }
    }
}

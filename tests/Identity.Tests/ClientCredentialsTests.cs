using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>
/// One Identity service with two configured service clients: <c>gateway</c> (default roles; may call Loyalty and Ordering)
/// and <c>reports</c> (two roles; may call Ordering only).
/// </summary>
public sealed class ServiceClientFixture() : IdentityHostFixture(new Dictionary<string, string?>
{
    ["Identity:Clients:gateway:Secret"] = GatewaySecret,
    ["Identity:Clients:gateway:Resources:0"] = Loyalty,
    ["Identity:Clients:gateway:Resources:1"] = Ordering,
    ["Identity:Clients:reports:Secret"] = ReportsSecret,
    ["Identity:Clients:reports:Roles:0"] = "reports-reader",
    ["Identity:Clients:reports:Roles:1"] = "orders-writer",
    ["Identity:Clients:reports:Resources:0"] = Ordering,
})
{
    public const string GatewaySecret = "gateway-Secret-0123456789-abcdefghij";
    public const string ReportsSecret = "reports-Secret-9876543210-klmnopqrst";
    public const string Loyalty = "urn:portico:loyalty";
    public const string Ordering = "urn:portico:ordering";
}

/// <summary>The <c>client_credentials</c> grant: service clients from configuration get access tokens of their own.</summary>
public sealed class ClientCredentialsTests(ServiceClientFixture fixture) : IClassFixture<ServiceClientFixture>
{
    private const string GatewaySecret = ServiceClientFixture.GatewaySecret;

    private readonly HttpClient _client = fixture.Client;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ClientCredentials_RightSecret_ReturnsBearerAccessTokenAndNoRefreshToken()
    {
        using var response = await _client.ClientTokenAsync("gateway", GatewaySecret, ServiceClientFixture.Loyalty);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();
        Assert.Equal(["access_token", "token_type", "expires_in"], body.Select(p => p.Key));
        Assert.Equal("Bearer", (string?)body["token_type"]);
        Assert.Equal(900, (int)body["expires_in"]!);
        Assert.Equal(3, ((string)body["access_token"]!).Split('.').Length);
    }

    [Fact]
    public async Task ClientCredentials_AccessToken_NamesTheClientAndValidatesAgainstTheServedJwks()
    {
        var accessToken = await ClientTokenOkAsync("gateway", GatewaySecret, ServiceClientFixture.Loyalty);

        var header = IdentityClient.DecodeJwtPart(accessToken, 0);
        Assert.Equal("ES256", (string?)header["alg"]);
        Assert.Contains((string?)header["kid"], await _client.GetPublishedKeyIdsAsync());

        var claims = IdentityClient.DecodeJwtPart(accessToken, 1);
        Assert.Equal("client:gateway", (string?)claims["sub"]);
        Assert.Equal("gateway", (string?)claims["name"]);
        Assert.Equal("service", (string?)claims["role"]);
        Assert.False(claims.ContainsKey("email"));
        Assert.Equal("portico-identity", (string?)claims["iss"]);
        Assert.Equal(ServiceClientFixture.Loyalty, (string?)claims["aud"]); // the one service it was asked for (RFC 8707)
        Assert.Equal("gateway", (string?)claims["client_id"]); // RFC 9068 §2.2
        Assert.False(string.IsNullOrEmpty((string?)claims["jti"]));
        Assert.Equal(900, (long)claims["exp"]! - (long)claims["iat"]!);

        var jwks = new JsonWebKeySet(await _client.GetJwksAsync());
        var parameters = TokenTests.ValidationParameters(jwks.GetSigningKeys());
        parameters.ValidAudience = ServiceClientFixture.Loyalty;
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(accessToken, parameters);
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal("client:gateway", result.Claims["sub"]);
    }

    // Gap 11: all services shared one audience, so any service token worked everywhere.
    [Fact]
    public async Task ClientCredentials_Resource_BecomesTheOnlyAudience_OneTokenPerService()
    {
        var loyalty = IdentityClient.DecodeJwtPart(await ClientTokenOkAsync("gateway", GatewaySecret, ServiceClientFixture.Loyalty), 1);
        var ordering = IdentityClient.DecodeJwtPart(await ClientTokenOkAsync("gateway", GatewaySecret, ServiceClientFixture.Ordering), 1);

        Assert.Equal(ServiceClientFixture.Loyalty, (string?)loyalty["aud"]);
        Assert.Equal(ServiceClientFixture.Ordering, (string?)ordering["aud"]);
    }

    [Fact]
    public async Task ClientCredentials_NoResource_UsesTheClientsOnlyResource()
    {
        var token = IdentityClient.DecodeJwtPart(await ClientTokenOkAsync("reports", ServiceClientFixture.ReportsSecret), 1);

        Assert.Equal(ServiceClientFixture.Ordering, (string?)token["aud"]);
    }

    // RFC 8707 §2: a resource the client may not call, an unknown or malformed one, or none where several are possible.
    [Theory]
    [InlineData("reports", ServiceClientFixture.ReportsSecret, ServiceClientFixture.Loyalty)]
    [InlineData("gateway", GatewaySecret, "urn:portico:identity")]
    [InlineData("gateway", GatewaySecret, "urn:portico:Loyalty")]
    [InlineData("gateway", GatewaySecret, "portico")]
    [InlineData("gateway", GatewaySecret, "loyalty")]
    [InlineData("gateway", GatewaySecret, null)]
    public async Task ClientCredentials_ResourceTheClientMayNotCall_Returns400InvalidTarget(string clientId, string secret, string? resource)
    {
        using var response = await _client.ClientTokenAsync(clientId, secret, resource);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal("Invalid target", problem.Title);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal("invalid_target", (string?)body["error"]);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task ClientCredentials_WrongSecret_Is401_WhateverTheResource()
    {
        // The resources a client may call are told only to the client itself.
        using var response = await _client.ClientTokenAsync("reports", GatewaySecret, "urn:portico:nothing");

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task ClientCredentials_ConfiguredRoles_ReplaceTheDefaultRole()
    {
        var accessToken = await ClientTokenOkAsync("reports", ServiceClientFixture.ReportsSecret);

        var parameters = TokenTests.ValidationParameters(new JsonWebKeySet(await _client.GetJwksAsync()).GetSigningKeys());
        parameters.ValidAudience = ServiceClientFixture.Ordering;
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(accessToken, parameters);
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(["reports-reader", "orders-writer"], result.ClaimsIdentity.FindAll("role").Select(c => c.Value));
    }

    [Fact]
    public async Task ClientCredentials_WrongSecretUnknownClientAndAnotherClientsSecret_GiveTheSameStatusHeadersAndBody()
    {
        using var wrongSecret = await _client.ClientTokenAsync("gateway", GatewaySecret + "x");
        using var unknownClient = await _client.ClientTokenAsync("nobody", GatewaySecret);
        using var otherSecret = await _client.ClientTokenAsync("gateway", ServiceClientFixture.ReportsSecret);
        using var otherCase = await _client.ClientTokenAsync("Gateway", GatewaySecret);

        var expectedBody = await BodyWithoutTraceIdAsync(wrongSecret);
        foreach (var response in new[] { wrongSecret, unknownClient, otherSecret, otherCase })
        {
            var problem = await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
            Assert.Equal("Invalid client credentials", problem.Title);
            Assert.Equal(HeaderNames(wrongSecret), HeaderNames(response));
            Assert.Equal(expectedBody, await BodyWithoutTraceIdAsync(response));
        }
    }

    [Fact]
    public async Task ClientCredentials_Secrets_AreNeverLogged()
    {
        (await _client.ClientTokenAsync("gateway", GatewaySecret, ServiceClientFixture.Loyalty)).Dispose();
        (await _client.ClientTokenAsync("gateway", "a-wrong-secret-that-is-long-enough-1")).Dispose();

        Assert.Contains(fixture.App.Logs.GetSnapshot(), r => r.Message.Contains("gateway presented a wrong secret", StringComparison.Ordinal));
        Assert.DoesNotContain(fixture.App.Logs.GetSnapshot(), r =>
            r.Message.Contains(GatewaySecret, StringComparison.Ordinal) || r.Message.Contains("a-wrong-secret", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "gateway"}""", "client_secret")]
    [InlineData("""{"grant_type": "client_credentials", "client_secret": "gateway-Secret-0123456789-abcdefghij"}""", "client_id")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "gateway", "client_secret": 12345}""", "client_secret")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "gateway", "client_secret": null}""", "client_secret")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": ["gateway"], "client_secret": "x"}""", "client_id")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "", "client_secret": "x"}""", "client_id")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "gateway", "client_secret": "gateway-Secret-0123456789-abcdefghij", "email": "a@example.com"}""", "email")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "gateway", "client_secret": "gateway-Secret-0123456789-abcdefghij", "password": "x"}""", "password")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "gateway", "client_secret": "gateway-Secret-0123456789-abcdefghij", "refresh_token": "x"}""", "refresh_token")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "gateway", "client_secret": "gateway-Secret-0123456789-abcdefghij", "scope": "admin"}""", "scope")]
    [InlineData("""{"email": "a@example.com", "password": "violet-Harbor-7-lantern", "client_secret": "gateway-Secret-0123456789-abcdefghij"}""", "client_secret")]
    [InlineData("""{"email": "a@example.com", "password": "violet-Harbor-7-lantern", "client_id": "not an id"}""", "client_id")]
    [InlineData("""{"grant_type": "refresh_token", "refresh_token": "x", "client_secret": "y"}""", "client_secret")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "gateway", "client_secret": "gateway-Secret-0123456789-abcdefghij", "resource": ["urn:portico:loyalty"]}""", "resource")]
    [InlineData("""{"email": "a@example.com", "password": "violet-Harbor-7-lantern", "resource": "urn:portico:loyalty"}""", "resource")]
    public async Task ClientCredentials_BadBody_Returns400ProblemNamingTheField(string json, string field)
    {
        using var response = await _client.PostJsonAsync("api/auth/token", json);

        await response.ReadValidationProblemAsync(field);
    }

    [Fact]
    public async Task ClientCredentials_OversizedSecret_Returns400NotACredentialCheck()
    {
        using var response = await _client.ClientTokenAsync("gateway", new string('s', 513));

        await response.ReadValidationProblemAsync("client_secret");
    }

    [Fact]
    public async Task Me_WithClientToken_Returns401_ItIsNotForIdentity()
    {
        var accessToken = await ClientTokenOkAsync("gateway", GatewaySecret, ServiceClientFixture.Loyalty);

        using var response = await _client.GetMeAsync(accessToken);

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized); // its audience is Loyalty
    }

    private async Task<string> ClientTokenOkAsync(string clientId, string clientSecret, string? resource = null)
    {
        using var response = await _client.ClientTokenAsync(clientId, clientSecret, resource);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (string)JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["access_token"]!;
    }

    private static List<string> HeaderNames(HttpResponseMessage response) =>
        response.Headers.Concat(response.Content.Headers).Select(h => h.Key).Where(k => k != "Date").Order(StringComparer.Ordinal).ToList();

    private static async Task<string> BodyWithoutTraceIdAsync(HttpResponseMessage response)
    {
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();
        body.Remove("traceId");
        return body.ToJsonString();
    }
}

/// <summary>Start-up validation of <c>Identity:Clients</c>.</summary>
public sealed class ServiceClientSettingsTests : IDisposable
{
    private readonly string _databasePath = TestDatabases.NewPath("identity");

    public void Dispose() => IdentityApp.DeleteFiles(_databasePath);

    [Fact]
    public async Task Start_ShortSecretAndBadRoles_FailsListingEveryProblemWithoutEchoingTheSecret()
    {
        await using var app = new IdentityApp(_databasePath, new Dictionary<string, string?>
        {
            ["Identity:Clients:gateway:Secret"] = "short-Secret-31-chars-long-abcd",
            ["Identity:Clients:gateway:Resources:0"] = "urn:portico:loyalty",
            ["Identity:Clients:reports:Roles:0"] = "reader,writer",
            ["Identity:Clients:reports:Resources:0"] = "urn:portico:ordering",
            ["Identity:Clients:bad id!:Secret"] = "another-Secret-long-enough-0123456789",
            ["Identity:Clients:bad id!:Resources:0"] = "urn:portico:ordering",
        });

        var error = Assert.Throws<OptionsValidationException>(() => app.Address);

        Assert.Contains("Identity:Clients:gateway:Secret: Secret must be at least 32 characters.", error.Failures);
        Assert.Contains("Identity:Clients:reports:Secret: Secret is required.", error.Failures);
        Assert.Contains(error.Failures, f => f.StartsWith("Identity:Clients:reports:Roles:0:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Identity:Clients:bad id!:", StringComparison.Ordinal));
        Assert.Equal(4, error.Failures.Count());
        Assert.DoesNotContain("short-Secret", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("another-Secret", error.Message, StringComparison.Ordinal);
    }

    // Gap 11: a service client could be given the admin role.
    [Theory]
    [InlineData("admin")]
    [InlineData("Admin")]
    public async Task Start_ServiceClientWithTheAdminRole_Fails(string role)
    {
        await using var app = new IdentityApp(_databasePath, new Dictionary<string, string?>
        {
            ["Identity:Clients:gateway:Secret"] = "gateway-Secret-0123456789-abcdefghij",
            ["Identity:Clients:gateway:Roles:0"] = "service",
            ["Identity:Clients:gateway:Roles:1"] = role,
            ["Identity:Clients:gateway:Resources:0"] = "urn:portico:loyalty",
        });

        var error = Assert.Throws<OptionsValidationException>(() => app.Address);

        Assert.Equal(["Identity:Clients:gateway:Roles:1: a service client cannot hold the 'admin' role."], error.Failures);
    }

    [Fact]
    public void ServiceClientOptions_ToString_LeavesTheSecretOut()
    {
        var options = new ServiceClientOptions { Secret = "printed-Secret-0123456789-abcdefghij" };

        Assert.Equal("ServiceClientOptions { Secret = ***, Roles = [service], Resources = [] }", options.ToString());
    }

    // Gap 11 (RFC 8707): a client names the services it may call, each by an absolute URI that is not the users' audience.
    [Fact]
    public async Task Start_ClientWithoutResourcesOrWithBadOnes_FailsNamingEach()
    {
        await using var app = new IdentityApp(_databasePath, new Dictionary<string, string?>
        {
            ["Identity:Clients:gateway:Secret"] = "gateway-Secret-0123456789-abcdefghij",
            ["Identity:Clients:reports:Secret"] = "reports-Secret-9876543210-klmnopqrst",
            ["Identity:Clients:reports:Resources:0"] = "loyalty",
            ["Identity:Clients:reports:Resources:1"] = "urn:portico:ordering#x",
            ["Identity:Clients:reports:Resources:2"] = "portico:x y",
            ["Identity:Clients:audit:Secret"] = "audit-Secret-9876543210-klmnopqrstuv",
            ["Identity:Audience"] = "urn:portico:all",
            ["Identity:Clients:audit:Resources:0"] = "urn:portico:all",
        });

        var error = Assert.Throws<OptionsValidationException>(() => app.Address);

        Assert.Contains(error.Failures, f => f.StartsWith("Identity:Clients:gateway:Resources must name at least one resource", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Identity:Clients:reports:Resources:0: 'loyalty' is not an absolute URI", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Identity:Clients:reports:Resources:1:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Identity:Clients:reports:Resources:2:", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.StartsWith("Identity:Clients:audit:Resources:0: 'urn:portico:all' is the audience of user tokens", StringComparison.Ordinal));
        Assert.Equal(5, error.Failures.Count());
    }

    [Fact]
    public async Task Start_SecretOf32Characters_IsAccepted()
    {
        await using var app = new IdentityApp(_databasePath, new Dictionary<string, string?>
        {
            ["Identity:Clients:gateway:Secret"] = new string('k', 32),
            ["Identity:Clients:gateway:Resources:0"] = "urn:portico:loyalty",
        });
        using var client = app.CreateHttpClient();

        using var response = await client.ClientTokenAsync("gateway", new string('k', 32));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}

using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Security;

public sealed class EdgeSecurityTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(TestBackend Backend, GatewayTestHost Gateway)> StartAsync()
    {
        var backend = await TestBackend.StartAsync("orders", app =>
        {
            app.MapGet("/orders/whoami", (HttpRequest r) => Results.Json(new
            {
                userId = r.Headers["X-User-Id"].ToString(),
                roles = r.Headers["X-User-Roles"].ToString(),
                userIdCount = r.Headers["X-User-Id"].Count,
            }));
            app.MapGet("/public/whoami", (HttpRequest r) => Results.Json(new { userId = r.Headers["X-User-Id"].ToString() }));
            app.MapGet("/admin/things", () => "secret");
        });
        var config = GatewayJson.Create([("orders", "/orders/{**rest}", "svc")], [("svc", [backend.Address])], authorizationPolicy: null);
        config = AddRoute(config, "public", "/public/{**rest}", "anonymous");
        config = AddRoute(config, "admin", "/admin/{**rest}", "admin");
        return (backend, await GatewayTestHost.StartAsync(config));
    }

    private static string AddRoute(string json, string id, string path, string policy)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        node["ReverseProxy"]!["Routes"]![id] = new System.Text.Json.Nodes.JsonObject
        {
            ["ClusterId"] = "svc",
            ["AuthorizationPolicy"] = policy,
            ["Match"] = new System.Text.Json.Nodes.JsonObject { ["Path"] = path },
        };
        return node.ToJsonString();
    }

    private static async Task<HttpResponseMessage> GetAsync(GatewayTestHost gateway, string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        }
        return await gateway.Client.SendAsync(request, Ct);
    }

    public static TheoryData<string> Attacks => ["alg-none", "hs256-with-public-key", "expired", "not-yet-valid", "wrong-issuer",
        "wrong-audience", "tampered-payload", "unknown-kid", "malformed-base64", "missing", "token-in-query"];

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task TokenAttack_Gets401ProblemJson_AndNeverReachesTheService(string attack)
    {
        var (backend, gateway) = await StartAsync();
        await using var _ = backend;
        await using var __ = gateway;
        var tokens = gateway.Tokens;
        var now = DateTime.UtcNow;
        var path = "/orders/whoami";
        string? token = attack switch
        {
            "alg-none" => Unsigned(tokens.CreateToken(), tokens.KeyId),
            "hs256-with-public-key" => tokens.CreateToken(credentials: new SigningCredentials(
                new SymmetricSecurityKey(Encoding.UTF8.GetBytes(tokens.JwksJson)) { KeyId = tokens.KeyId }, SecurityAlgorithms.HmacSha256)),
            "expired" => tokens.CreateToken(notBefore: now.AddMinutes(-30), expires: now.AddMinutes(-5)),
            "not-yet-valid" => tokens.CreateToken(notBefore: now.AddMinutes(10), expires: now.AddMinutes(25)),
            "wrong-issuer" => tokens.CreateToken(issuer: "https://evil.example"),
            "wrong-audience" => tokens.CreateToken(audience: "someone-else"),
            "tampered-payload" => Tamper(tokens.CreateToken("user-1")),
            "unknown-kid" => tokens.CreateToken(credentials: new SigningCredentials(
                new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "unknown-kid" }, SecurityAlgorithms.EcdsaSha256)),
            "malformed-base64" => "eyJhbGciOiJFUzI1NiJ9.!!!not-base64!!!.c2ln",
            "missing" => null,
            "token-in-query" => null,
            _ => throw new ArgumentOutOfRangeException(nameof(attack)),
        };
        if (attack == "token-in-query")
        {
            path += "?access_token=" + tokens.CreateToken();
        }

        using var response = await GetAsync(gateway, path, token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, backend.RequestCount);

        using var control = await GetAsync(gateway, "/orders/whoami", tokens.CreateToken());
        Assert.Equal(HttpStatusCode.OK, control.StatusCode);
        Assert.Equal(1, backend.RequestCount);
    }

    [Fact]
    public async Task Policies_SecureByDefault_AnonymousOpens_AdminNeedsTheRole()
    {
        var (backend, gateway) = await StartAsync();
        await using var _ = backend;
        await using var __ = gateway;

        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(gateway, "/orders/whoami", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(gateway, "/public/whoami", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(gateway, "/admin/things", null)).StatusCode);
        using var forbidden = await GetAsync(gateway, "/admin/things", gateway.Tokens.CreateToken("u1", ["user"]));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal("application/problem+json", forbidden.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(gateway, "/admin/things", gateway.Tokens.CreateToken("a1", ["admin"]))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(gateway, "/portico/api/clusters", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(gateway, "/portico/api/clusters", gateway.Tokens.CreateToken("u1", ["user"]))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(gateway, "/portico/api/clusters", gateway.Tokens.CreateToken("a1", ["admin"]))).StatusCode);
    }

    [Fact]
    public async Task ClientSentUserHeaders_NeverReachTheService_OnlyTheTokensIdentityDoes()
    {
        var (backend, gateway) = await StartAsync();
        await using var _ = backend;
        await using var __ = gateway;

        using var anonymous = new HttpRequestMessage(HttpMethod.Get, "/public/whoami");
        anonymous.Headers.Add("X-User-Id", "admin");
        anonymous.Headers.Add("X-User-Roles", "admin");
        using var anonymousResponse = await gateway.Client.SendAsync(anonymous, Ct);
        using var seenAnonymous = JsonDocument.Parse(await anonymousResponse.Content.ReadAsStringAsync(Ct));
        Assert.Equal("", seenAnonymous.RootElement.GetProperty("userId").GetString());

        using var spoofing = new HttpRequestMessage(HttpMethod.Get, "/orders/whoami");
        spoofing.Headers.Authorization = new("Bearer", gateway.Tokens.CreateToken("user-42", ["user"]));
        spoofing.Headers.Add("X-User-Id", "admin");
        spoofing.Headers.Add("X-User-Roles", "admin");
        using var response = await gateway.Client.SendAsync(spoofing, Ct);
        using var seen = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("user-42", seen.RootElement.GetProperty("userId").GetString());
        Assert.Equal(1, seen.RootElement.GetProperty("userIdCount").GetInt32());
        Assert.Equal("user", seen.RootElement.GetProperty("roles").GetString());
    }

    [Fact]
    public async Task FloodOfUnknownKids_RefetchesTheKeySetAtMostOncePerInterval()
    {
        var (backend, gateway) = await StartAsync();
        await using var _ = backend;
        await using var __ = gateway;
        using var warmUp = await GetAsync(gateway, "/orders/whoami", gateway.Tokens.CreateToken());
        var fetchesBefore = gateway.JwksFetches;

        for (var i = 0; i < 50; i++)
        {
            var forged = gateway.Tokens.CreateToken(credentials: new SigningCredentials(
                new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "kid-" + i }, SecurityAlgorithms.EcdsaSha256));
            using var response = await GetAsync(gateway, "/orders/whoami", forged);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        output.WriteLine($"key set fetched {fetchesBefore} time(s) before and {gateway.JwksFetches - fetchesBefore} time(s) during 50 tokens with unknown kids");
        Assert.InRange(gateway.JwksFetches - fetchesBefore, 0, 1);
        Assert.Equal(1, backend.RequestCount);
    }

    [Fact]
    public async Task Responses_CarryHardeningHeaders_AndHideTheServicesServerHeader()
    {
        var (backend, gateway) = await StartAsync();
        await using var _ = backend;
        await using var __ = gateway;

        using var response = await GetAsync(gateway, "/public/whoami", null);

        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.False(response.Headers.Contains("Server"), "the service's Server header is removed");
    }

    private static string Unsigned(string token, string kid)
    {
        var parts = token.Split('.');
        var header = Base64UrlEncoder.Encode($$"""{"alg":"none","typ":"JWT","kid":"{{kid}}"}""");
        return $"{header}.{parts[1]}.";
    }

    [Fact]
    public async Task AnonymousRoute_CalledWithAToken_StillForwardsTheCallersIdentity()
    {
        var (backend, gateway) = await StartAsync();
        await using var _ = backend;
        await using var __ = gateway;

        // Without a token the gateway skips authentication on an anonymous route; with one it must not,
        // neither the first time (full validation) nor once the token is remembered (no authorization step).
        var token = gateway.Tokens.CreateToken("user-7");
        for (var i = 0; i < 2; i++)
        {
            using var response = await GetAsync(gateway, "/public/whoami", token);
            using var seen = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
            Assert.Equal("user-7", seen.RootElement.GetProperty("userId").GetString());
        }

        // An invalid token on an anonymous route identifies nobody: served anonymously.
        using var invalid = await GetAsync(gateway, "/public/whoami", Tamper(gateway.Tokens.CreateToken("user-1")));
        using var seenInvalid = JsonDocument.Parse(await invalid.Content.ReadAsStringAsync(Ct));
        Assert.Equal("", seenInvalid.RootElement.GetProperty("userId").GetString());
    }

    [Fact]
    public async Task RememberedToken_IsHonouredAgain_ButATamperedCopyIsStillRejected()
    {
        var (backend, gateway) = await StartAsync();
        await using var _ = backend;
        await using var __ = gateway;
        var token = gateway.Tokens.CreateToken("user-1");

        for (var i = 0; i < 3; i++)
        {
            using var ok = await GetAsync(gateway, "/orders/whoami", token);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        using var tampered = await GetAsync(gateway, "/orders/whoami", Tamper(token));
        // A remembered token skips the JWT handler, never authorization: a user is still no admin.
        using var admin = await GetAsync(gateway, "/admin/things", token);

        Assert.Equal(HttpStatusCode.Unauthorized, tampered.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, admin.StatusCode);
        Assert.Equal(3, backend.RequestCount);
    }

    private static string Tamper(string token)
    {
        var parts = token.Split('.');
        var payload = Base64UrlEncoder.Decode(parts[1]).Replace("user-1", "admin", StringComparison.Ordinal);
        return $"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}";
    }
}

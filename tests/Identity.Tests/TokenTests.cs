using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Portico.Identity.Tests;

public sealed class TokenTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>
{
    private readonly HttpClient _client = fixture.Client;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Token_AccessToken_HasEs256HeaderWithKidAndEveryClaim()
    {
        var email = IdentityClient.NewEmail();
        var user = await _client.RegisterAndGetUserAsync(email, name: "Park Jisoo");

        var token = await _client.LoginOkAsync(email.ToUpperInvariant());

        var header = IdentityClient.DecodeJwtPart(token.AccessToken, 0);
        Assert.Equal("ES256", (string?)header["alg"]);
        Assert.Equal("at+jwt", (string?)header["typ"]);
        var kid = (string?)header["kid"];
        Assert.False(string.IsNullOrEmpty(kid));
        Assert.Contains(kid, await _client.GetPublishedKeyIdsAsync());

        var claims = IdentityClient.DecodeJwtPart(token.AccessToken, 1);
        Assert.Equal(user.Id.ToString(), (string?)claims["sub"]);
        Assert.Equal(email, (string?)claims["email"]);
        Assert.Equal("Park Jisoo", (string?)claims["name"]);
        Assert.Equal("user", (string?)claims["role"]);
        Assert.Equal("portico-identity", (string?)claims["iss"]);
        Assert.Equal("portico", (string?)claims["aud"]);
        Assert.False(string.IsNullOrEmpty((string?)claims["jti"]));
        var issuedAt = (long)claims["iat"]!;
        Assert.Equal(900, (long)claims["exp"]! - issuedAt);
        Assert.InRange(issuedAt, DateTimeOffset.UtcNow.AddMinutes(-2).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Token_AccessToken_ValidatesAgainstTheServedJwks()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);
        var token = await _client.LoginOkAsync(email);

        var jwks = new JsonWebKeySet(await _client.GetJwksAsync());
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token.AccessToken, ValidationParameters(jwks.GetSigningKeys()));

        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(email, result.Claims["email"]);
    }

    [Fact]
    public async Task Jwks_PublishesOnlyPublicEcP256Keys()
    {
        using var response = await _client.GetAsync(".well-known/jwks.json", Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.Public);
        var keys = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["keys"]!.AsArray();
        Assert.NotEmpty(keys);
        Assert.All(keys, key =>
        {
            Assert.Equal(["kty", "use", "alg", "kid", "crv", "x", "y"], key!.AsObject().Select(p => p.Key));
            Assert.Equal("EC", (string?)key["kty"]);
            Assert.Equal("P-256", (string?)key["crv"]);
            Assert.Equal("sig", (string?)key["use"]);
            Assert.Equal("ES256", (string?)key["alg"]);
            Assert.Equal(32, Base64UrlEncoder.DecodeBytes((string)key["x"]!).Length);
            Assert.Equal(32, Base64UrlEncoder.DecodeBytes((string)key["y"]!).Length);
        });
    }

    [Fact]
    public async Task Token_WrongPasswordAndUnknownEmail_GiveTheSameStatusHeadersAndBody()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);

        using var wrongPassword = await _client.LoginAsync(email, "not-the-Right-password-1");
        using var unknownEmail = await _client.LoginAsync(IdentityClient.NewEmail("nobody"), "not-the-Right-password-1");

        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);
        Assert.Equal(wrongPassword.StatusCode, unknownEmail.StatusCode);
        Assert.Equal(HeaderNames(wrongPassword), HeaderNames(unknownEmail));
        Assert.Equal(await BodyWithoutTraceIdAsync(wrongPassword), await BodyWithoutTraceIdAsync(unknownEmail));
        var problem = await wrongPassword.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("Invalid credentials", problem.Title);
    }

    [Fact]
    public async Task Token_PasswordInAnotherCase_IsRejected()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);

        using var response = await _client.LoginAsync(email, IdentityClient.GoodPassword.ToUpperInvariant());

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("")]
    [InlineData("never-issued-token")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Refresh_UnknownToken_Returns401Problem(string refreshToken)
    {
        using var response = await _client.RefreshAsync(refreshToken);

        if (refreshToken.Length == 0)
        {
            await response.ReadValidationProblemAsync("refresh_token");
        }
        else
        {
            await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
    }

    [Theory]
    [InlineData("""{"password": "violet-Harbor-7-lantern"}""", "email")]
    [InlineData("""{"email": "a@example.com"}""", "password")]
    [InlineData("""{"email": 1, "password": "violet-Harbor-7-lantern"}""", "email")]
    [InlineData("""{"email": "a@example.com", "password": ["x"]}""", "password")]
    [InlineData("""{"grant_type": "authorization_code"}""", "grant_type")]
    [InlineData("""{"grant_type": 7, "email": "a@example.com", "password": "x"}""", "grant_type")]
    [InlineData("""{"grant_type": "refresh_token"}""", "refresh_token")]
    [InlineData("""{"grant_type": "refresh_token", "refresh_token": {"token": "x"}}""", "refresh_token")]
    [InlineData("""{"grant_type": "refresh_token", "refresh_token": "x", "password": "y"}""", "password")]
    [InlineData("""{"email": "a@example.com", "password": "x", "scope": "admin"}""", "scope")]
    [InlineData("""{"email": "a@example.com", "password": tru""", "password")]
    [InlineData("""[1, 2]""", "body")]
    public async Task Token_BadBody_Returns400ProblemNamingTheField(string json, string field)
    {
        using var response = await _client.PostJsonAsync("api/auth/token", json);

        await response.ReadValidationProblemAsync(field);
    }

    [Fact]
    public async Task Token_ClientCredentialsWithNoClientsConfigured_Returns401()
    {
        using var response = await _client.ClientTokenAsync("gateway", new string('s', 40));

        var problem = await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("Invalid client credentials", problem.Title);
    }

    [Fact]
    public async Task Token_OversizedFields_Return400NotACredentialCheck()
    {
        using var response = await _client.LoginAsync(new string('e', 250) + "@x.com", new string('p', 129));

        var problem = await response.ReadValidationProblemAsync("email");
        Assert.Contains("password", problem.Errors!.Keys);
    }

    [Fact]
    public async Task Me_WithAccessToken_ReturnsTheUser()
    {
        var email = IdentityClient.NewEmail();
        var user = await _client.RegisterAndGetUserAsync(email, name: "Lee Seojun");
        var token = await _client.LoginOkAsync(email);

        using var response = await _client.GetMeAsync(token.AccessToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var me = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<CurrentUserDto>(response.Content, Ct);
        Assert.Equal(new CurrentUserDto(user.Id, email, "Lee Seojun", "user"), me);
    }

    [Fact]
    public async Task Me_WithoutToken_Returns401ProblemWithBearerChallenge()
    {
        using var response = await _client.GetMeAsync(null);

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")]
    public async Task Me_WithMalformedToken_Returns401Problem(string accessToken)
    {
        using var response = await _client.GetMeAsync(accessToken);

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Me_TokenSignedByAnotherKeyUnderTheSameKid_Returns401()
    {
        var email = IdentityClient.NewEmail();
        var user = await _client.RegisterAndGetUserAsync(email);
        var genuine = await _client.LoginOkAsync(email);
        var kid = (string)IdentityClient.DecodeJwtPart(genuine.AccessToken, 0)["kid"]!;

        using var attackerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "portico-identity",
            Audience = "portico",
            Claims = new Dictionary<string, object> { ["sub"] = user.Id.ToString(), ["role"] = "admin" },
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(attackerKey) { KeyId = kid }, SecurityAlgorithms.EcdsaSha256),
        });

        using var response = await _client.GetMeAsync(forged);

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    internal static TokenValidationParameters ValidationParameters(IEnumerable<SecurityKey> keys) => new()
    {
        ValidIssuer = "portico-identity",
        ValidAudience = "portico",
        ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
        ValidTypes = ["at+jwt"],
        IssuerSigningKeys = keys,
        ClockSkew = TimeSpan.FromMinutes(1),
    };

    private static List<string> HeaderNames(HttpResponseMessage response) =>
        response.Headers.Concat(response.Content.Headers).Select(h => h.Key).Where(k => k != "Date").Order(StringComparer.Ordinal).ToList();

    private static async Task<string> BodyWithoutTraceIdAsync(HttpResponseMessage response)
    {
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();
        body.Remove("traceId");
        return body.ToJsonString();
    }
}

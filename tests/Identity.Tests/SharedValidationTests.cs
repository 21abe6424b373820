using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>
/// ServiceDefaults' <c>AddJwtAuthentication</c>, as every service and the gateway validate Identity's tokens: a host on
/// a real Kestrel port against a JWKS the test changes.
/// </summary>
public sealed class SharedValidationTests : IAsyncLifetime
{
    private readonly TestTokenIssuer _kept = new();
    private readonly TestTokenIssuer _withdrawn = new();
    private volatile string _jwks = "";
    private TestBackend _jwksServer = null!;
    private WebApplication _validator = null!;
    private HttpClient _client = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _jwks = KeySet(_kept, _withdrawn);
        _jwksServer = await TestBackend.StartAsync("jwks", map => map.MapGet("/jwks", () => Results.Text(_jwks, "application/json")), Ct);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Portico:Jwt:JwksUrl"] = new Uri(_jwksServer.Address, "jwks").ToString(),
            ["Portico:Jwt:JwksRefreshInterval"] = "00:00:01",
        });
        builder.AddJwtAuthentication();
        builder.Services.AddAuthorization();
        _validator = builder.Build();
        _validator.UseAuthentication();
        _validator.UseAuthorization();
        _validator.MapGet("/protected", () => "ok").RequireAuthorization();
        await _validator.StartAsync(Ct);
        var address = _validator.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _client = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _validator.DisposeAsync();
        await _jwksServer.DisposeAsync();
    }

    // Gap 2: IdentityModel's "last known good" key set kept a withdrawn key working for up to an hour.
    [Fact]
    public async Task KeyRemovedFromTheJwks_IsRefusedOnceTheKeySetIsFetchedAgain()
    {
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(_withdrawn.CreateToken("before")));

        _jwks = KeySet(_kept);

        // An unknown kid asks for the key set again (at most once a second here); from then on, a token of the
        // withdrawn key that was never seen before must be refused.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var status = HttpStatusCode.OK;
        for (var i = 0; status == HttpStatusCode.OK && DateTime.UtcNow < deadline; i++)
        {
            await StatusAsync(new TestTokenIssuer().CreateToken("unknown-kid"));
            await Task.Delay(100, Ct);
            status = await StatusAsync(_withdrawn.CreateToken("after-" + i));
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(_kept.CreateToken("kept")));
    }

    // Gap 1: nothing capped a token's lifetime, so a stolen key could mint year-long tokens.
    [Fact]
    public async Task Token_LivingLongerThanTheMaximum_IsRefused()
    {
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(_kept.CreateToken("short", expires: DateTime.UtcNow.AddMinutes(30))));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(_kept.CreateToken("long", expires: DateTime.UtcNow.AddDays(365))));
    }

    // Gap 11: the shared validation ignored typ, so any JWT signed by Identity's key passed for an access token.
    [Fact]
    public async Task Token_WithoutTheAccessTokenType_IsRefused()
    {
        var parts = _kept.CreateToken("typed").Split('.');
        var plainJwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(
            Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(parts[1]),
            new Microsoft.IdentityModel.Tokens.SigningCredentials(_kept.SigningKey, "ES256"));

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(_kept.CreateToken("typed")));
        Assert.Equal("JWT", (string?)IdentityClient.DecodeJwtPart(plainJwt, 0)["typ"]);
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(plainJwt));
    }

    private async Task<HttpStatusCode> StatusAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "protected");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _client.SendAsync(request, Ct);
        return response.StatusCode;
    }

    private static string KeySet(params TestTokenIssuer[] issuers) =>
        new JsonObject
        {
            ["keys"] = new JsonArray(issuers.Select(i => JsonNode.Parse(i.JwksJson)!["keys"]![0]!.DeepClone()).ToArray()),
        }.ToJsonString();
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Portico.SystemTests;

public sealed class IdentitySystemTests(PorticoSystemFixture system)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RegisterTokenMe_ThroughTheGateway_TheTokenIsAcceptedAtTheEdgeAndByIdentity()
    {
        var email = $"kim-{Guid.NewGuid():N}@example.test";
        using var register = await system.Gateway.PostAsJsonAsync("/api/auth/register",
            new { email, password = "correct horse battery staple", name = "김민준" }, Ct);
        Assert.Equal(HttpStatusCode.Accepted, register.StatusCode);

        using var token = await system.Gateway.PostAsJsonAsync("/api/auth/token", new { email, password = "correct horse battery staple" }, Ct);
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);
        using var tokenBody = JsonDocument.Parse(await token.Content.ReadAsStringAsync(Ct));
        var accessToken = tokenBody.RootElement.GetProperty("access_token").GetString();

        using var me = new HttpRequestMessage(HttpMethod.Get, "/api/auth/me");
        me.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var meResponse = await system.Gateway.SendAsync(me, Ct);
        Assert.Equal(HttpStatusCode.OK, meResponse.StatusCode);
        using var meBody = JsonDocument.Parse(await meResponse.Content.ReadAsStringAsync(Ct));
        Assert.Equal(email, meBody.RootElement.GetProperty("email").GetString());
        Assert.Equal("김민준", meBody.RootElement.GetProperty("name").GetString());
    }

    // Issue 27, gap 5: Identity writes the revocation to the store of the AppHost, the gateway reads it from there
    // (its remembered token included). Services refusing it too: Identity.Tests/RevocationEndToEndTests.
    [Fact]
    public async Task Logout_ThroughTheGateway_EndsTheAccessTokenThere_WithinSeconds()
    {
        var email = $"lee-{Guid.NewGuid():N}@example.test";
        using (var register = await system.Gateway.PostAsJsonAsync("/api/auth/register", new { email, password = "correct horse battery staple", name = "Lee" }, Ct))
        {
            Assert.Equal(HttpStatusCode.Accepted, register.StatusCode);
        }
        using var token = await system.Gateway.PostAsJsonAsync("/api/auth/token", new { email, password = "correct horse battery staple" }, Ct);
        using var tokenBody = JsonDocument.Parse(await token.Content.ReadAsStringAsync(Ct));
        var accessToken = tokenBody.RootElement.GetProperty("access_token").GetString()!;
        var refreshToken = tokenBody.RootElement.GetProperty("refresh_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, await OrdersStatusAsync(accessToken));

        using (var logout = await system.Gateway.PostAsJsonAsync("/api/auth/logout", new { refresh_token = refreshToken }, Ct))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        var status = HttpStatusCode.OK;
        while (status == HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            status = await OrdersStatusAsync(accessToken);
            await Task.Delay(50, Ct);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    private async Task<HttpStatusCode> OrdersStatusAsync(string accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/orders");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await system.Gateway.SendAsync(request, Ct);
        return response.StatusCode;
    }

    [Fact]
    public async Task Me_WithoutAToken_IsRefusedAtTheGateway()
    {
        using var response = await system.Gateway.GetAsync("/api/auth/me", Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Register_WithBadInput_IsA400NamingTheField()
    {
        using var response = await system.Gateway.PostAsJsonAsync("/api/auth/register", new { email = "not-an-email", password = "short", name = "x" }, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("email", await response.Content.ReadAsStringAsync(Ct), StringComparison.OrdinalIgnoreCase);
    }
}

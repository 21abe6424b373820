extern alias OrderingService;

using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Portico.ServiceDefaults.Authentication.Revocation;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>
/// The system as it runs, in one process: the embedded store (Garnet), the real Identity writing its revocation list
/// there, the real Ordering service and a real gateway, both validating Identity's tokens with the shared validation,
/// and a stand-in service behind the gateway that checks no token itself (so what it refuses, the gateway refused).
/// </summary>
public sealed class SystemUnderRevocation : IAsyncLifetime
{
    public const string AdminPassword = "e2e-admin-Pa55phrase-lantern";
    public const string GatewaySecret = "gateway-Secret-e2e-0123456789-abcdefghij";
    public const string LoyaltyResource = "urn:portico:loyalty";
    public const string OrderingResource = "urn:portico:ordering";

    private readonly string _orderingDb = TestDatabases.NewPath("ordering");
    private GarnetTestServer _store = null!;
    private TestBackend _echo = null!;
    private ServiceApp<OrderingService::Program> _ordering = null!;
    private GatewayHost _gateway = null!;

    public IdentityApp Identity { get; private set; } = null!;

    /// <summary>Identity, directly.</summary>
    public HttpClient IdentityClient { get; private set; } = null!;

    /// <summary>Ordering, directly (as a caller inside the network would reach it).</summary>
    public HttpClient Ordering { get; private set; } = null!;

    /// <summary>The gateway: <c>/api/orders</c> goes to Ordering, <c>/echo</c> to a service that checks no token.</summary>
    public HttpClient Gateway { get; private set; } = null!;

    /// <summary>How often validators check the store when no message came: the bound on how long a revocation takes.</summary>
    public TimeSpan RefreshInterval => new TokenRevocationOptions().RefreshInterval;

    public async ValueTask InitializeAsync()
    {
        _store = GarnetTestServer.Start();
        Identity = new IdentityApp(TestDatabases.NewPath("identity"), new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = _store.ConnectionString,
            ["Identity:Admin:Password"] = AdminPassword,
            ["Identity:Clients:gateway:Secret"] = GatewaySecret,
            ["Identity:Clients:gateway:Resources:0"] = LoyaltyResource,
            ["Identity:Clients:gateway:Resources:1"] = OrderingResource,
        });
        IdentityClient = Identity.CreateHttpClient();
        var jwks = new Uri(Identity.Address, ".well-known/jwks.json").ToString();

        _ordering = new ServiceApp<OrderingService::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:orderingdb"] = $"Data Source={_orderingDb}",
            ["ConnectionStrings:store"] = _store.ConnectionString,
            ["Portico:Jwt:JwksUrl"] = jwks,
            ["Ordering:CatalogUrl"] = "http://127.0.0.1:1/", // not called: these tests only read orders
        });
        Ordering = _ordering.CreateHttpClient();

        _echo = await TestBackend.StartAsync("echo", app => app.MapGet("/echo", () => "hello"));
        _gateway = await GatewayHost.StartAsync(JsonSerializer.Serialize(new
        {
            ReverseProxy = new
            {
                Routes = new Dictionary<string, object>
                {
                    ["orders"] = new { ClusterId = "ordering", Match = new { Path = "/api/orders/{**rest}" } },
                    ["echo"] = new { ClusterId = "echo", Match = new { Path = "/echo" } },
                },
                Clusters = new Dictionary<string, object>
                {
                    ["ordering"] = new { Destinations = new { ordering = new { Address = _ordering.Address.ToString() } } },
                    ["echo"] = new { Destinations = new { echo = new { Address = _echo.Address.ToString() } } },
                },
            },
        }), new Dictionary<string, string?>
        {
            ["ConnectionStrings:store"] = _store.ConnectionString,
            ["Portico:Jwt:JwksUrl"] = jwks,
        });
        Gateway = _gateway.CreateHttpClient();
    }

    public async ValueTask DisposeAsync()
    {
        Gateway.Dispose();
        Ordering.Dispose();
        IdentityClient.Dispose();
        await _gateway.DisposeAsync();
        await _ordering.DisposeAsync();
        await Identity.DisposeAsync();
        await _echo.DisposeAsync();
        _store.Dispose();
        TestDatabases.Delete(_orderingDb);
        IdentityApp.DeleteFiles(Identity.DatabasePath);
    }
}

/// <summary>
/// Gap 5: a logout, a password change and an account's deletion end the user's access tokens at the gateway and at a
/// service within the revocation interval — not 15 minutes later, when they expire. Gap 11: a service token is for one
/// service only.
/// </summary>
public sealed class RevocationEndToEndTests(SystemUnderRevocation system) : IClassFixture<SystemUnderRevocation>
{
    private const string NewPassword = "amber-Quarry-31-willow";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Logout_EndsTheUsersAccessTokens_AtTheGatewayAndAtAService()
    {
        var (_, token) = await SignedInUserAsync();
        await AssertAcceptedEverywhereAsync(token.AccessToken);

        var revoked = await RevokeAsync(() => system.IdentityClient.PostJsonAsync("api/auth/logout",
            new Dictionary<string, string> { ["refresh_token"] = token.RefreshToken }), HttpStatusCode.NoContent);

        await AssertRefusedEverywhereWithinTheIntervalAsync(token.AccessToken, revoked);
        // Signing in again, in the same second even, works everywhere.
        var again = await system.IdentityClient.LoginOkAsync(token.Email);
        await AssertAcceptedEverywhereAsync(again.AccessToken);
    }

    [Fact]
    public async Task PasswordChange_EndsTheUsersAccessTokens_AtTheGatewayAndAtAService()
    {
        var (email, token) = await SignedInUserAsync();
        var phone = await system.IdentityClient.LoginOkAsync(email);
        await AssertAcceptedEverywhereAsync(token.AccessToken);
        await AssertAcceptedEverywhereAsync(phone.AccessToken);

        var revoked = await RevokeAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/auth/password")
            {
                Content = System.Net.Http.Json.JsonContent.Create(new Dictionary<string, string> { ["current_password"] = global::Portico.Identity.Tests.IdentityClient.GoodPassword, ["new_password"] = NewPassword }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.AccessToken);
            return await system.IdentityClient.SendAsync(request, Ct);
        }, HttpStatusCode.NoContent);

        await AssertRefusedEverywhereWithinTheIntervalAsync(token.AccessToken, revoked);
        await AssertRefusedEverywhereWithinTheIntervalAsync(phone.AccessToken, revoked); // the other device's too
        var again = await system.IdentityClient.LoginOkAsync(email, NewPassword);
        await AssertAcceptedEverywhereAsync(again.AccessToken);
    }

    [Fact]
    public async Task AccountDeletion_EndsTheUsersAccessTokens_AtTheGatewayAndAtAService()
    {
        var (email, token) = await SignedInUserAsync();
        await AssertAcceptedEverywhereAsync(token.AccessToken);
        var userId = (string)global::Portico.Identity.Tests.IdentityClient.DecodeJwtPart(token.AccessToken, 1)["sub"]!;
        var admin = await system.IdentityClient.LoginOkAsync("admin@portico.local", SystemUnderRevocation.AdminPassword);

        var revoked = await RevokeAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"api/auth/users/{userId}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin.AccessToken);
            return await system.IdentityClient.SendAsync(request, Ct);
        }, HttpStatusCode.NoContent);

        await AssertRefusedEverywhereWithinTheIntervalAsync(token.AccessToken, revoked);
        using var login = await system.IdentityClient.LoginAsync(email);
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
    }

    // Gap 11: every service accepted every token; now a service token names one service (RFC 8707).
    [Fact]
    public async Task ServiceToken_ForLoyalty_IsRefusedByOrdering_ForOrdering_IsAccepted_AndNeitherAtTheGateway()
    {
        var forLoyalty = await ServiceTokenAsync(SystemUnderRevocation.LoyaltyResource);
        var forOrdering = await ServiceTokenAsync(SystemUnderRevocation.OrderingResource);

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(system.Ordering, "api/orders", forLoyalty));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(system.Ordering, "api/orders", forOrdering));
        // The gateway accepts user tokens only: a service token leaked outside does not get in through it.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(system.Gateway, "echo", forLoyalty));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(system.Gateway, "echo", forOrdering));
        // User tokens keep working where they did: at the gateway and, forwarded, at Ordering.
        var (_, user) = await SignedInUserAsync();
        await AssertAcceptedEverywhereAsync(user.AccessToken);
    }

    private async Task<(string Email, UserToken Token)> SignedInUserAsync()
    {
        var email = global::Portico.Identity.Tests.IdentityClient.NewEmail();
        await system.IdentityClient.RegisterOkAsync(email);
        var token = await system.IdentityClient.LoginOkAsync(email);
        return (email, new UserToken(email, token.AccessToken, token.RefreshToken));
    }

    private async Task<string> ServiceTokenAsync(string resource)
    {
        using var response = await system.IdentityClient.ClientTokenAsync("gateway", SystemUnderRevocation.GatewaySecret, resource);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>Runs the call that revokes, asserts its status, and returns when it answered.</summary>
    private static async Task<Stopwatch> RevokeAsync(Func<Task<HttpResponseMessage>> call, HttpStatusCode expected)
    {
        using var response = await call();
        Assert.Equal(expected, response.StatusCode);
        return Stopwatch.StartNew();
    }

    /// <summary>Accepted at the gateway (remembered there from then on), through it at Ordering, and at Ordering directly.</summary>
    private async Task AssertAcceptedEverywhereAsync(string accessToken)
    {
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(system.Gateway, "echo", accessToken));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(system.Gateway, "api/orders", accessToken));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(system.Ordering, "api/orders", accessToken));
    }

    /// <summary>
    /// Refused at the gateway (the stand-in behind it checks nothing, and the gateway had remembered the token), through
    /// it, and at Ordering directly — each within the refresh interval of the revocation answer (messages normally make
    /// it milliseconds).
    /// </summary>
    private async Task AssertRefusedEverywhereWithinTheIntervalAsync(string accessToken, Stopwatch sinceRevocation)
    {
        var bound = system.RefreshInterval + TimeSpan.FromSeconds(1);
        foreach (var (client, path) in new[] { (system.Gateway, "echo"), (system.Gateway, "api/orders"), (system.Ordering, "api/orders") })
        {
            HttpStatusCode status;
            while ((status = await StatusAsync(client, path, accessToken)) == HttpStatusCode.OK && sinceRevocation.Elapsed < bound)
            {
                await Task.Delay(20, Ct);
            }
            Assert.True(status == HttpStatusCode.Unauthorized, $"{client.BaseAddress}{path}: {status} after {sinceRevocation.Elapsed}");
            TestContext.Current.TestOutputHelper?.WriteLine($"{client.BaseAddress}{path} refused {sinceRevocation.Elapsed.TotalMilliseconds:F0} ms after the revocation");
        }
        Assert.True(sinceRevocation.Elapsed < bound, $"took {sinceRevocation.Elapsed}");
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string path, string accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await client.SendAsync(request, Ct);
        return response.StatusCode;
    }

    private sealed record UserToken(string Email, string AccessToken, string RefreshToken);
}

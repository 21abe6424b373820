using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Portico.Tests.Common;

/// <summary>
/// Identity as the other services see it, without running it: the key set of <see cref="Tokens"/> at
/// <c>/.well-known/jwks.json</c> and, for services (Loyalty's reconciler, the gateway), the <c>client_credentials</c>
/// grant for <see cref="ServiceSecret"/>, answered with a token of role <c>service</c>.
/// </summary>
public sealed class StandInIdentity : IAsyncDisposable
{
    public const string ServiceSecret = "tests-service-secret-0123456789-abcdefghijkl";

    private readonly TestBackend _backend;

    private StandInIdentity(TestBackend backend, TestTokenIssuer tokens)
    {
        _backend = backend;
        Tokens = tokens;
    }

    public TestTokenIssuer Tokens { get; }

    public string JwksUrl => new Uri(_backend.Address, "/.well-known/jwks.json").ToString();

    public string TokenUrl => new Uri(_backend.Address, "/api/auth/token").ToString();

    public static async Task<StandInIdentity> StartAsync(TestTokenIssuer tokens)
    {
        var backend = await TestBackend.StartAsync("identity", app =>
        {
            app.MapGet("/.well-known/jwks.json", () => Results.Text(tokens.JwksJson, "application/json"));
            app.MapPost("/api/auth/token", async (HttpRequest request) =>
            {
                var body = await request.ReadFromJsonAsync<Dictionary<string, string>>();
                return body is not null && body.GetValueOrDefault("grant_type") == "client_credentials" && body.GetValueOrDefault("client_secret") == ServiceSecret
                    ? Results.Json(new Dictionary<string, object> { ["access_token"] = tokens.CreateToken("client:" + body["client_id"], roles: ["service"]), ["expires_in"] = 900 })
                    : Results.Unauthorized();
            });
        });
        return new StandInIdentity(backend, tokens);
    }

    public ValueTask DisposeAsync() => _backend.DisposeAsync();
}

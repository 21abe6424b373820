using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Portico.Identity.Tests;

// The wire contract as a client sees it, written out independently of the service's types.
public sealed record RegisteredUserDto(Guid Id, string Email, string Name);

public sealed record CurrentUserDto(Guid Id, string Email, string Name, string Role);

public sealed record TokenDto(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("refresh_token")] string RefreshToken);

public sealed record ProblemDto(string? Type, string? Title, int? Status, string? Detail, Dictionary<string, string[]>? Errors);

internal static class IdentityClient
{
    /// <summary>A password that passes the rules: long enough, not on the common list.</summary>
    public const string GoodPassword = "violet-Harbor-7-lantern";

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static string NewEmail(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}@example.com";

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, string json, string mediaType = "application/json") =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, mediaType), Ct);

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, object body) =>
        client.PostAsJsonAsync(path, body, Web, Ct);

    public static Task<HttpResponseMessage> RegisterAsync(this HttpClient client, string email, string password = GoodPassword, string name = "Test User") =>
        client.PostJsonAsync("api/auth/register", new { email, password, name });

    /// <summary>Registers an account and asserts the 202 that a new and a taken address alike get.</summary>
    public static async Task RegisterOkAsync(this HttpClient client, string email, string password = GoodPassword, string name = "Test User")
    {
        using var response = await client.RegisterAsync(email, password, name);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    /// <summary>Registers an account, then signs in and reads <c>/me</c>: registration itself says nothing about the account.</summary>
    public static async Task<RegisteredUserDto> RegisterAndGetUserAsync(this HttpClient client, string email, string password = GoodPassword, string name = "Test User")
    {
        await client.RegisterOkAsync(email, password, name);
        var token = await client.LoginOkAsync(email, password);
        using var me = await client.GetMeAsync(token.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        var user = (await me.Content.ReadFromJsonAsync<CurrentUserDto>(Web, Ct))!;
        return new RegisteredUserDto(user.Id, user.Email, user.Name);
    }

    public static Task<HttpResponseMessage> LoginAsync(this HttpClient client, string email, string password = GoodPassword) =>
        client.PostJsonAsync("api/auth/token", new { email, password });

    public static Task<HttpResponseMessage> RefreshAsync(this HttpClient client, string refreshToken) =>
        client.PostJsonAsync("api/auth/token", new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken });

    public static Task<HttpResponseMessage> ClientTokenAsync(this HttpClient client, string clientId, string clientSecret, string? resource = null)
    {
        var body = new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = clientSecret,
        };
        if (resource is not null)
        {
            body["resource"] = resource;
        }
        return client.PostJsonAsync("api/auth/token", body);
    }

    /// <summary>Reads a 200 token response.</summary>
    public static async Task<TokenDto> ReadTokenAsync(this HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<TokenDto>(Web, Ct))!;
    }

    public static async Task<TokenDto> LoginOkAsync(this HttpClient client, string email, string password = GoodPassword)
    {
        using var response = await client.LoginAsync(email, password);
        return await response.ReadTokenAsync();
    }

    public static async Task<HttpResponseMessage> GetMeAsync(this HttpClient client, string? accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/auth/me");
        if (accessToken is not null)
        {
            request.Headers.Authorization = new("Bearer", accessToken);
        }
        return await client.SendAsync(request, Ct);
    }

    public static async Task<string> GetJwksAsync(this HttpClient client) => await client.GetStringAsync(".well-known/jwks.json", Ct);

    /// <summary>The <c>kid</c>s the service publishes.</summary>
    public static async Task<List<string>> GetPublishedKeyIdsAsync(this HttpClient client)
    {
        var jwks = JsonNode.Parse(await client.GetJwksAsync())!;
        return jwks["keys"]!.AsArray().Select(k => (string)k!["kid"]!).ToList();
    }

    /// <summary>Asserts a problem+json answer with the given status and returns its body.</summary>
    public static async Task<ProblemDto> ReadProblemAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<ProblemDto>(Web, Ct))!;
        Assert.Equal((int)status, problem.Status);
        return problem;
    }

    /// <summary>Asserts a 400 problem+json whose <c>errors</c> name <paramref name="field"/> (and its detail says so too).</summary>
    public static async Task<ProblemDto> ReadValidationProblemAsync(this HttpResponseMessage response, string field)
    {
        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.NotNull(problem.Errors);
        Assert.Contains(field, problem.Errors.Keys);
        Assert.Contains(field, problem.Detail, StringComparison.Ordinal);
        return problem;
    }

    /// <summary>The JSON segment of a JWT (0 header, 1 payload), decoded.</summary>
    public static JsonObject DecodeJwtPart(string jwt, int part)
    {
        var segment = jwt.Split('.')[part].Replace('-', '+').Replace('_', '/');
        segment = segment.PadRight(segment.Length + (4 - segment.Length % 4) % 4, '=');
        return JsonNode.Parse(Convert.FromBase64String(segment))!.AsObject();
    }
}

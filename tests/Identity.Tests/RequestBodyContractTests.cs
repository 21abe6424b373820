using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Portico.Tests.OpenApi;

namespace Portico.Identity.Tests;

/// <summary>
/// The request bodies Identity's OpenAPI document declares are the ones its endpoints take: the fields the document lists
/// are the fields an endpoint accepts, its required fields are the ones an empty object is refused for, and the token
/// request's grants (a <c>oneOf</c>) accept and refuse what the endpoint does. And the faults of a body are still
/// problem+json answers naming the field — the bodies are documented, not bound by the framework.
/// </summary>
public sealed class RequestBodyContractTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>
{
    private readonly HttpClient _client = fixture.Client;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> BodyPaths =>
    [
        "/api/auth/register", "/api/auth/token", "/api/auth/logout", "/api/auth/password",
        "/api/auth/password/reset-request", "/api/auth/password/reset", "/api/auth/verify-email",
    ];

    [Theory]
    [MemberData(nameof(BodyPaths))]
    public async Task UnknownField_IsRefusedNamingIt_AndTheFieldsItExpectsAreTheDocumentedOnes(string path)
    {
        var schema = await BodySchemaAsync(path);

        using var response = await PostAsync(path, """{"unexpected": "x"}""");

        var problem = await response.ReadValidationProblemAsync("unexpected");
        var message = Assert.Single(problem.Errors!["unexpected"]);
        var expected = message[(message.LastIndexOf("; expected ", StringComparison.Ordinal) + 2 + "expected ".Length)..].TrimEnd('.').Split(", ");
        Assert.Equal(schema["properties"]!.AsObject().Select(p => p.Key).Order(), expected.Order());
        Assert.False(schema["additionalProperties"]!.GetValue<bool>());
    }

    [Theory]
    [MemberData(nameof(BodyPaths))]
    public async Task EmptyObject_IsRefusedNamingExactlyTheDocumentedRequiredFields(string path)
    {
        var schema = await BodySchemaAsync(path);
        // The token request's required fields are its grants': without grant_type, the password grant's.
        var required = Names(schema["required"])
            .Concat((schema["oneOf"] as JsonArray ?? []).Where(g => !Names(g!["required"]).Contains("grant_type")).SelectMany(g => Names(g!["required"])))
            .ToList();
        Assert.NotEmpty(required);

        using var response = await PostAsync(path, "{}");

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Equal(required.Order(), problem.Errors!.Keys.Order());
    }

    [Theory]
    [MemberData(nameof(BodyPaths))]
    public async Task FieldOfTheWrongType_Is400NamingThatField(string path)
    {
        var field = (await BodySchemaAsync(path))["properties"]!.AsObject().Last().Key;

        using var response = await PostAsync(path, $$"""{"{{field}}": 42}""");

        var problem = await response.ReadValidationProblemAsync(field);
        Assert.Contains($"{field} must be a string, not a number.", problem.Errors![field]);
    }

    [Theory]
    [MemberData(nameof(BodyPaths))]
    public async Task BodyThatIsNotJson_Is400NamingTheBody(string path)
    {
        using var response = await PostAsync(path, "email=a@example.com");

        var problem = await response.ReadValidationProblemAsync("body");
        Assert.Equal(["body"], problem.Errors!.Keys);
    }

    [Theory]
    [MemberData(nameof(BodyPaths))]
    public async Task BodyOfAnotherMediaType_Is415Problem_SayingWhatToSend(string path)
    {
        using var response = await PostAsync(path, "email=a@example.com", "application/x-www-form-urlencoded");

        // The endpoint's own answer, not routing's bare 415: documenting the body must not have added accepts metadata.
        var problem = await response.ReadProblemAsync(HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("application/json", problem.Detail, StringComparison.Ordinal);
        Assert.NotNull((await OperationAsync(path))["responses"]!["415"]);
    }

    [Theory]
    [InlineData("""{"email": "nobody@example.com", "password": "some password"}""")]
    [InlineData("""{"grant_type": "password", "email": "nobody@example.com", "password": "some password", "client_id": "shop-web"}""")]
    [InlineData("""{"grant_type": "refresh_token", "refresh_token": "never-issued"}""")]
    [InlineData("""{"grant_type": "refresh_token", "refresh_token": "never-issued", "client_id": "shop-web"}""")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "s"}""")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "s", "resource": "urn:portico:loyalty"}""")]
    public async Task TokenRequest_TheDocumentAccepts_IsNotRefusedAsMalformed(string json)
    {
        Assert.Empty(await TokenSchemaErrorsAsync(json));

        using var response = await PostAsync("/api/auth/token", json);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode); // unknown credentials, but a well-formed request
    }

    [Theory]
    [InlineData("""{"email": "nobody@example.com"}""")]
    [InlineData("""{"grant_type": "refresh_token"}""")]
    [InlineData("""{"grant_type": "refresh_token", "refresh_token": "x", "password": "y"}""")]
    [InlineData("""{"grant_type": "client_credentials", "client_id": "c", "client_secret": "s", "email": "a@example.com"}""")]
    [InlineData("""{"grant_type": "authorization_code", "email": "a@example.com", "password": "x"}""")]
    [InlineData("""{"email": "a@example.com", "password": "x", "resource": "urn:portico:loyalty"}""")]
    [InlineData("""{"email": "a@example.com", "password": ""}""")]
    public async Task TokenRequest_TheDocumentRefuses_IsRefusedWith400(string json)
    {
        Assert.NotEmpty(await TokenSchemaErrorsAsync(json));

        using var response = await PostAsync("/api/auth/token", json);

        await response.ReadProblemAsync(HttpStatusCode.BadRequest);
    }

    private async Task<IReadOnlyList<string>> TokenSchemaErrorsAsync(string json)
    {
        var document = await DocumentAsync();
        var schema = (await OperationAsync("/api/auth/token"))["requestBody"]!["content"]!["application/json"]!["schema"]!;
        using var body = JsonDocument.Parse(json);
        return new OpenApiJsonSchema(document).Errors(schema, body.RootElement);
    }

    /// <summary>The documented body of the operation, resolved: required, JSON, a component schema.</summary>
    private async Task<JsonObject> BodySchemaAsync(string path)
    {
        var body = (await OperationAsync(path))["requestBody"]!;
        Assert.True(body["required"]!.GetValue<bool>());
        var reference = body["content"]!["application/json"]!["schema"]!["$ref"]!.GetValue<string>();
        return (await DocumentAsync())["components"]!["schemas"]![reference["#/components/schemas/".Length..]]!.AsObject();
    }

    private async Task<JsonObject> OperationAsync(string path) => (await DocumentAsync())["paths"]![path]!["post"]!.AsObject();

    private async Task<JsonObject> DocumentAsync() => JsonNode.Parse(await _client.GetStringAsync("openapi/v1.json", Ct))!.AsObject();

    private static List<string> Names(JsonNode? array) => [.. (array as JsonArray ?? []).Select(n => n!.GetValue<string>())];

    /// <summary>Posts the body, signed in where the endpoint needs it (a password change), so that the body is what is judged.</summary>
    private async Task<HttpResponseMessage> PostAsync(string path, string body, string mediaType = "application/json")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path.TrimStart('/')) { Content = new StringContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        if (path == "/api/auth/password")
        {
            var email = IdentityClient.NewEmail();
            await _client.RegisterOkAsync(email);
            request.Headers.Authorization = new("Bearer", (await _client.LoginOkAsync(email)).AccessToken);
        }
        return await _client.SendAsync(request, Ct);
    }
}

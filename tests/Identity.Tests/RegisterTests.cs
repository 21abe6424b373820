using System.Net;
using System.Text.Json.Nodes;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class RegisterTestsOnSqlite(IdentityFixture fixture) : RegisterTests(fixture), IClassFixture<IdentityFixture>;

public sealed class RegisterTestsOnPostgres(PostgresIdentityFixture fixture)
    : RegisterTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresIdentityFixture>;

/// <summary>Accounts as the database keeps them: created, at the columns' length limits, taken, raced for.</summary>
public abstract class RegisterTests(IdentityFixture fixture)
{
    private readonly HttpClient _client = fixture.Client;

    [Fact]
    public async Task Register_ValidBody_Returns202_AndTheAccountCanSignIn()
    {
        var email = IdentityClient.NewEmail();

        using var response = await _client.RegisterAsync(email, name: "Kim Minji");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!.AsObject();
        Assert.Equal(["status", "detail"], body.Select(p => p.Key));
        var token = await _client.LoginOkAsync(email);
        using var me = await _client.GetMeAsync(token.AccessToken);
        var user = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<CurrentUserDto>(me.Content, TestContext.Current.CancellationToken);
        Assert.Equal((email, "Kim Minji", "user"), (user!.Email, user.Name, user.Role));
    }

    [Fact]
    public async Task Register_FieldsAtTheirLengthLimits_Returns202()
    {
        var email = new string('a', 64) + "@" + new string('b', 60) + "." + new string('c', 60) + "." + new string('d', 63) + ".com";
        Assert.Equal(254, email.Length);

        var user = await _client.RegisterAndGetUserAsync(email, password: "k7#" + new string('x', 125), name: new string('N', 100));

        Assert.Equal(email, user.Email);
    }

    // Gap 7: a taken address used to get 409, and far sooner than a new one.
    [Fact]
    public async Task Register_EmailAlreadyTakenInAnotherCase_GetsTheSameAnswerAsANewOne_AndChangesNothing()
    {
        var email = IdentityClient.NewEmail("dup");
        using var first = await _client.RegisterAsync(email);

        using var again = await _client.RegisterAsync(email.ToUpperInvariant(), password: "other-Password-to-steal-1", name: "Someone Else");

        Assert.Equal(first.StatusCode, again.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), await again.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(HeaderNames(first), HeaderNames(again));
        await _client.LoginOkAsync(email);
        using var stolen = await _client.LoginAsync(email, "other-Password-to-steal-1");
        Assert.Equal(HttpStatusCode.Unauthorized, stolen.StatusCode);
    }

    [Fact]
    public async Task Register_SameEmailConcurrently_AllGet202_AndOneAccountExists()
    {
        var email = IdentityClient.NewEmail("race");

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => _client.RegisterAsync(email, password: $"race-Password-{i}-xyz")));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        foreach (var response in responses)
        {
            response.Dispose();
        }
        var signedIn = 0;
        for (var i = 0; i < 4; i++)
        {
            using var login = await _client.LoginAsync(email, $"race-Password-{i}-xyz");
            signedIn += login.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }
        Assert.Equal(1, signedIn);
    }

    [Fact]
    public async Task Register_NeverGrantsARoleFromTheBody()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);
        var token = await _client.LoginOkAsync(email);

        using var me = await _client.GetMeAsync(token.AccessToken);

        Assert.Equal("user", (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<CurrentUserDto>(me.Content, TestContext.Current.CancellationToken))!.Role);
    }

    private static List<string> HeaderNames(HttpResponseMessage response) =>
        response.Headers.Concat(response.Content.Headers).Select(h => h.Key).Where(k => k != "Date").Order(StringComparer.Ordinal).ToList();
}

/// <summary>What registration refuses, and how: checked before the database is touched, so on SQLite only.</summary>
public sealed class RegisterValidationTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>
{
    private readonly HttpClient _client = fixture.Client;

    public static TheoryData<string, string, string> InvalidFields => new()
    {
        // email format
        { "plain-text", IdentityClient.GoodPassword, "email" },
        { "no-domain@", IdentityClient.GoodPassword, "email" },
        { "@no-local.com", IdentityClient.GoodPassword, "email" },
        { "two@at@signs.com", IdentityClient.GoodPassword, "email" },
        { "no-dot@localhost", IdentityClient.GoodPassword, "email" },
        { "space in@example.com", IdentityClient.GoodPassword, "email" },
        { "\"Display\" <x@example.com>", IdentityClient.GoodPassword, "email" },
        { "dots@example..com", IdentityClient.GoodPassword, "email" },
        { "", IdentityClient.GoodPassword, "email" },
        // password rules
        { "ok@example.com", "short-pw", "password" },
        { "ok@example.com", "elevenchars", "password" },
        { "ok@example.com", "password1234", "password" },
        { "ok@example.com", "PASSWORD1234", "password" },
        { "ok@example.com", "Qwerty123456", "password" },
        // Gap 10: the 10,000 most common passwords, also with digits and symbols stuck on either end.
        { "ok@example.com", "Welcome@2024", "password" },
        { "ok@example.com", "Qwerty123456!", "password" },
        { "ok@example.com", "2024!Sunshine", "password" },
        { "ok@example.com", "Portico2024!!", "password" },
        { "ok@example.com", "            ", "password" },
        // length limits
        { new string('a', 243) + "@example.com", IdentityClient.GoodPassword, "email" },
        { "ok@example.com", new string('p', 129), "password" },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public async Task Register_InvalidField_Returns400ProblemNamingIt(string email, string password, string field)
    {
        using var response = await _client.RegisterAsync(email, password);

        var problem = await response.ReadValidationProblemAsync(field);
        Assert.Equal([field], problem.Errors!.Keys);
    }

    [Fact]
    public async Task Register_NameTooLong_Returns400ProblemNamingName()
    {
        using var response = await _client.RegisterAsync(IdentityClient.NewEmail(), name: new string('n', 101));

        await response.ReadValidationProblemAsync("name");
    }

    [Fact]
    public async Task Register_ShortPasswordMadeOfEmoji_CountsCharactersNotUtf16Units()
    {
        // Six emoji are twelve UTF-16 units but six characters.
        using var response = await _client.RegisterAsync(IdentityClient.NewEmail(), password: "😀😁😂🤣😃😄");

        await response.ReadValidationProblemAsync("password");
    }

    [Theory]
    [InlineData("""{"email": 42, "password": "violet-Harbor-7-lantern", "name": "N"}""", "email")]
    [InlineData("""{"email": "a@example.com", "password": true, "name": "N"}""", "password")]
    [InlineData("""{"email": "a@example.com", "password": "violet-Harbor-7-lantern", "name": ["N"]}""", "name")]
    [InlineData("""{"email": {"address": "a@example.com"}, "password": "violet-Harbor-7-lantern", "name": "N"}""", "email")]
    [InlineData("""{"email": "a@example.com", "password": {"value": {"deeper": "x"}}, "name": "N"}""", "password")]
    [InlineData("""{"email": null, "password": "violet-Harbor-7-lantern", "name": "N"}""", "email")]
    [InlineData("""{"password": "violet-Harbor-7-lantern", "name": "N"}""", "email")]
    [InlineData("""{"email": "a@example.com", "password": "violet-Harbor-7-lantern"}""", "name")]
    [InlineData("""{"user": {"email": "a@example.com"}, "email": "a@example.com", "password": "violet-Harbor-7-lantern", "name": "N"}""", "user")]
    [InlineData("""{"email": "a@example.com", "password": "violet-Harbor-7-lantern", "name": "N", "role": "admin"}""", "role")]
    [InlineData("""{"email": "a@example.com", "email": "b@example.com", "password": "violet-Harbor-7-lantern", "name": "N"}""", "email")]
    [InlineData("""{"email": "a@example.com", "password": "violet-Harbor-7-lantern", "name": {"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}}""", "name")]
    public async Task Register_WrongTypesNestingOrUnknownFields_Returns400ProblemNamingTheField(string json, string field)
    {
        using var response = await _client.PostJsonAsync("api/auth/register", json);

        await response.ReadValidationProblemAsync(field);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("\"a string\"")]
    [InlineData("null")]
    [InlineData("{\"email\": \"a@example.com\",}")]
    [InlineData("{'email': 'a@example.com'}")]
    public async Task Register_MalformedJson_Returns400ProblemNamingTheBody(string json)
    {
        using var response = await _client.PostJsonAsync("api/auth/register", json);

        var problem = await response.ReadValidationProblemAsync("body");
        Assert.Equal(["body"], problem.Errors!.Keys);
    }

    [Fact]
    public async Task Register_MalformedJsonInsideAField_Returns400ProblemNamingThatField()
    {
        using var response = await _client.PostJsonAsync("api/auth/register", """{"email": "a@example.com", "password": tru""");

        var problem = await response.ReadValidationProblemAsync("password");
        Assert.Equal(["password"], problem.Errors!.Keys);
    }

    [Fact]
    public async Task Register_NotJson_Returns415Problem()
    {
        using var response = await _client.PostJsonAsync("api/auth/register", "email=a@example.com", "application/x-www-form-urlencoded");

        await response.ReadProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Register_HugeBody_Returns413Problem()
    {
        var json = $$"""{"email": "a@example.com", "password": "violet-Harbor-7-lantern", "name": "{{new string('n', 100_000)}}"}""";

        using var response = await _client.PostJsonAsync("api/auth/register", json);

        await response.ReadProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Register_HugeBodyWithoutContentLength_Returns413Problem()
    {
        var json = $$"""{"email": "a@example.com", "password": "violet-Harbor-7-lantern", "name": "{{new string('n', 100_000)}}"}""";
        using var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/auth/register") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await _client.SendAsync(request, TestContext.Current.CancellationToken);

        await response.ReadProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }

}

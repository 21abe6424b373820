using System.Net;
using System.Text;

namespace Portico.Identity.Tests;

/// <summary>Gap 8: lookalike addresses are one account or refused, one test per trick from the review.</summary>
public sealed class EmailNormalizationTests(IdentityFixture fixture) : IClassFixture<IdentityFixture>
{
    private readonly HttpClient _client = fixture.Client;

    [Theory]
    [InlineData("us\u200Ber@example.com")] // zero-width space
    [InlineData("us\u200Der@example.com")] // zero-width joiner
    [InlineData("us\u00ADer@example.com")] // soft hyphen
    [InlineData("\u202Emoc.elpmaxe@resu")] // right-to-left override
    [InlineData("user\u2066@example.com")] // left-to-right isolate
    [InlineData("\uFEFFuser@example.com")] // byte order mark
    [InlineData("user@exa\u200Bmple.com")] // zero-width space in the domain
    [InlineData("p\u0430ypal@example.com")] // Cyrillic а among Latin letters
    [InlineData("\u0391dmin@example.com")] // Greek capital alpha among Latin letters
    [InlineData("\"user\"@example.com")] // quoted local part
    [InlineData("\"us er\"@example.com")] // quoted local part with a space
    public async Task Register_LookalikeOrInvisibleTrick_Returns400NamingEmail(string email)
    {
        using var response = await _client.RegisterAsync(email);

        await response.ReadValidationProblemAsync("email");
    }

    [Fact]
    public async Task Register_LocalPartInOneNonLatinScript_IsAccepted()
    {
        var email = $"иван{Random.Shared.Next(1_000_000)}@example.com";

        await _client.RegisterOkAsync(email);

        await _client.LoginOkAsync(email);
    }

    [Fact]
    public async Task FullWidthSpelling_IsTheSameAccount()
    {
        var email = NewAsciiEmail();
        await _client.RegisterOkAsync(email);
        var fullWidth = FullWidth(email);
        Assert.NotEqual(email, fullWidth);

        await _client.LoginOkAsync(fullWidth);
        await AssertNoSecondAccountAsync(fullWidth, email);
    }

    [Fact]
    public async Task UpperCaseSpelling_IsTheSameAccount()
    {
        var email = NewAsciiEmail();
        await _client.RegisterOkAsync(email);

        await _client.LoginOkAsync(email.ToUpperInvariant());
        await AssertNoSecondAccountAsync(email.ToUpperInvariant(), email);
    }

    [Fact]
    public async Task UnicodeAndPunycodeDomains_AreTheSameAccount()
    {
        var local = $"u{Guid.NewGuid():N}";
        await _client.RegisterOkAsync($"{local}@bücher.example");

        await _client.LoginOkAsync($"{local}@xn--bcher-kva.example");
        await _client.LoginOkAsync($"{local}@BÜCHER.example");
        await AssertNoSecondAccountAsync($"{local}@xn--bcher-kva.example", $"{local}@bücher.example");
    }

    /// <summary>Registering <paramref name="variant"/> with another password made no account: only the original password signs in.</summary>
    private async Task AssertNoSecondAccountAsync(string variant, string original)
    {
        const string OtherPassword = "second-Account-Attempt-9";
        await _client.RegisterOkAsync(variant, OtherPassword);
        using var other = await _client.LoginAsync(variant, OtherPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
        await _client.LoginOkAsync(original);
    }

    private static string NewAsciiEmail() => $"lookalike{Guid.NewGuid():N}@example.com";

    /// <summary>Every ASCII letter, digit and <c>@</c> in its full-width form (U+FF01..U+FF5E).</summary>
    private static string FullWidth(string ascii)
    {
        var builder = new StringBuilder(ascii.Length);
        foreach (var c in ascii)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '@' ? (char)(c + 0xFEE0) : c);
        }
        return builder.ToString();
    }
}

using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using Portico.ServiceDefaults.Authentication;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Security;

public sealed class CachingTokenHandlerTests
{
    private readonly TestTokenIssuer _issuer = new();

    private TokenValidationParameters Parameters => new()
    {
        ValidIssuer = TestTokenIssuer.Issuer,
        ValidAudience = TestTokenIssuer.Audience,
        IssuerSigningKey = _issuer.SigningKey,
        ValidAlgorithms = ["ES256"],
    };

    [Fact]
    public async Task ValidToken_IsRememberedUntilMaxAge_ThenCheckedInFullAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var handler = new CachingTokenHandler(time);
        var token = _issuer.CreateToken("user-1", expires: DateTime.UtcNow.AddHours(1));

        var first = await handler.ValidateTokenAsync(token, Parameters);
        var second = await handler.ValidateTokenAsync(token, Parameters);

        Assert.True(first.IsValid);
        Assert.True(second.IsValid);
        Assert.Same(first.SecurityToken, second.SecurityToken); // served from memory
        Assert.NotSame(first.ClaimsIdentity, second.ClaimsIdentity); // each caller gets its own identity
        Assert.Equal("user-1", second.ClaimsIdentity.FindFirst("sub")?.Value);

        time.Advance(CachingTokenHandler.MaxAge + TimeSpan.FromSeconds(1));
        var third = await handler.ValidateTokenAsync(token, Parameters);

        Assert.True(third.IsValid);
        Assert.NotSame(first.SecurityToken, third.SecurityToken); // validated afresh
    }

    [Fact]
    public async Task Entry_NeverOutlivesTheTokensExpiry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var handler = new CachingTokenHandler(time);
        var token = _issuer.CreateToken("user-1", expires: DateTime.UtcNow.AddMinutes(1));
        var first = await handler.ValidateTokenAsync(token, Parameters);

        time.Advance(TimeSpan.FromMinutes(2)); // past exp, well within MaxAge
        var again = await handler.ValidateTokenAsync(token, Parameters);

        Assert.NotSame(first.SecurityToken, again.SecurityToken);
    }

    [Fact]
    public async Task InvalidTokens_AreNeverRemembered_AndTheBoundHolds()
    {
        var handler = new CachingTokenHandler(TimeProvider.System, capacity: 5);
        var stranger = new TestTokenIssuer();

        var forged = await handler.ValidateTokenAsync(stranger.CreateToken(), Parameters);
        Assert.False(forged.IsValid);
        Assert.Equal(0, handler.Count);

        for (var i = 0; i < 12; i++)
        {
            Assert.True((await handler.ValidateTokenAsync(_issuer.CreateToken("user-" + i), Parameters)).IsValid);
            Assert.InRange(handler.Count, 1, 5);
        }
    }
}

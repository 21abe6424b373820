using System.Net;
using Microsoft.Extensions.Time.Testing;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

/// <summary>Lockout on a test clock: defaults of five failures within 15 minutes, locked for 5 minutes.</summary>
public sealed class LockoutTests : IAsyncLifetime
{
    private const string WrongPassword = "definitely-Not-it-42";

    private readonly FakeTimeProvider _clock = IdentityApp.NewClock();
    private readonly IdentityApp _app;
    private HttpClient _client = null!;

    public LockoutTests() => _app = new IdentityApp(TestDatabases.NewPath("identity"), timeProvider: _clock);

    public ValueTask InitializeAsync()
    {
        _client = _app.CreateHttpClient();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        TestDatabases.Delete(_app.DatabasePath);
    }

    [Fact]
    public async Task Login_FifthFailure_LocksEvenTheRightPasswordUntilThePeriodEnds()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);

        for (var i = 1; i <= 4; i++)
        {
            using var failure = await _client.LoginAsync(email, WrongPassword);
            await failure.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using var fifth = await _client.LoginAsync(email, WrongPassword);
        await fifth.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal(TimeSpan.FromMinutes(5), fifth.Headers.RetryAfter?.Delta);

        _clock.Advance(TimeSpan.FromMinutes(2));
        using var locked = await _client.LoginAsync(email);
        var problem = await locked.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal("Too many failed logins", problem.Title);
        Assert.Equal(TimeSpan.FromMinutes(3), locked.Headers.RetryAfter?.Delta);

        _clock.Advance(TimeSpan.FromMinutes(3));
        using var released = await _client.LoginAsync(email);
        await released.ReadTokenAsync();
    }

    [Fact]
    public async Task Login_SuccessfulLogin_ForgetsEarlierFailures()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);
        for (var i = 0; i < 4; i++)
        {
            (await _client.LoginAsync(email, WrongPassword)).Dispose();
        }

        await _client.LoginOkAsync(email);

        for (var i = 0; i < 4; i++)
        {
            using var failure = await _client.LoginAsync(email, WrongPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, failure.StatusCode);
        }
    }

    [Fact]
    public async Task Login_FailuresFurtherApartThanTheWindow_DoNotAddUp()
    {
        var email = IdentityClient.NewEmail();
        await _client.RegisterOkAsync(email);
        for (var i = 0; i < 4; i++)
        {
            (await _client.LoginAsync(email, WrongPassword)).Dispose();
        }

        _clock.Advance(TimeSpan.FromMinutes(16));

        using var fifth = await _client.LoginAsync(email, WrongPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, fifth.StatusCode);
    }

    [Fact]
    public async Task Login_UnknownEmail_LocksExactlyLikeAKnownOne()
    {
        var known = IdentityClient.NewEmail("known");
        var unknown = IdentityClient.NewEmail("unknown");
        await _client.RegisterOkAsync(known);

        var knownStatuses = new List<HttpStatusCode>();
        var unknownStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var k = await _client.LoginAsync(known, WrongPassword);
            using var u = await _client.LoginAsync(unknown, WrongPassword);
            knownStatuses.Add(k.StatusCode);
            unknownStatuses.Add(u.StatusCode);
            Assert.Equal(k.Headers.RetryAfter?.Delta, u.Headers.RetryAfter?.Delta);
        }

        Assert.Equal(knownStatuses, unknownStatuses);
        Assert.Equal(HttpStatusCode.TooManyRequests, unknownStatuses[^1]);
    }

    [Fact]
    public async Task Login_LockOfOneAccount_DoesNotAffectAnother()
    {
        var victim = IdentityClient.NewEmail("victim");
        var bystander = IdentityClient.NewEmail("bystander");
        await _client.RegisterOkAsync(victim);
        await _client.RegisterOkAsync(bystander);
        for (var i = 0; i < 5; i++)
        {
            (await _client.LoginAsync(victim, WrongPassword)).Dispose();
        }

        await _client.LoginOkAsync(bystander);
    }
}

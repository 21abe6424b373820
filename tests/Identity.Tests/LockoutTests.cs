using System.Net;
using Microsoft.Extensions.Time.Testing;

namespace Portico.Identity.Tests;

/// <summary>Lockout on a test clock: defaults of five failures within 15 minutes, locked for 5 minutes.</summary>
public sealed class LockoutTests : IdentityHostFixture
{
    private const string WrongPassword = "definitely-Not-it-42";

    private readonly FakeTimeProvider _clock;

    public LockoutTests() : this(IdentityApp.NewClock())
    {
    }

    private LockoutTests(FakeTimeProvider clock) : base(new Dictionary<string, string?>(), clock) => _clock = clock;

    [Fact]
    public async Task Login_FifthFailure_LocksEvenTheRightPasswordUntilThePeriodEnds()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);

        for (var i = 1; i <= 4; i++)
        {
            using var failure = await Client.LoginAsync(email, WrongPassword);
            await failure.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using var fifth = await Client.LoginAsync(email, WrongPassword);
        await fifth.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal(TimeSpan.FromMinutes(5), fifth.Headers.RetryAfter?.Delta);

        _clock.Advance(TimeSpan.FromMinutes(2));
        using var locked = await Client.LoginAsync(email);
        var problem = await locked.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal("Too many failed logins", problem.Title);
        Assert.Equal(TimeSpan.FromMinutes(3), locked.Headers.RetryAfter?.Delta);

        _clock.Advance(TimeSpan.FromMinutes(3));
        using var released = await Client.LoginAsync(email);
        await released.ReadTokenAsync();
    }

    [Fact]
    public async Task Login_SuccessfulLogin_ForgetsEarlierFailures()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        for (var i = 0; i < 4; i++)
        {
            (await Client.LoginAsync(email, WrongPassword)).Dispose();
        }

        await Client.LoginOkAsync(email);

        for (var i = 0; i < 4; i++)
        {
            using var failure = await Client.LoginAsync(email, WrongPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, failure.StatusCode);
        }
    }

    [Fact]
    public async Task Login_FailuresFurtherApartThanTheWindow_DoNotAddUp()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        for (var i = 0; i < 4; i++)
        {
            (await Client.LoginAsync(email, WrongPassword)).Dispose();
        }

        _clock.Advance(TimeSpan.FromMinutes(16));

        using var fifth = await Client.LoginAsync(email, WrongPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, fifth.StatusCode);
    }

    [Fact]
    public async Task Login_UnknownEmail_LocksExactlyLikeAKnownOne()
    {
        var known = IdentityClient.NewEmail("known");
        var unknown = IdentityClient.NewEmail("unknown");
        await Client.RegisterOkAsync(known);

        var knownStatuses = new List<HttpStatusCode>();
        var unknownStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var k = await Client.LoginAsync(known, WrongPassword);
            using var u = await Client.LoginAsync(unknown, WrongPassword);
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
        await Client.RegisterOkAsync(victim);
        await Client.RegisterOkAsync(bystander);
        for (var i = 0; i < 5; i++)
        {
            (await Client.LoginAsync(victim, WrongPassword)).Dispose();
        }

        await Client.LoginOkAsync(bystander);
    }
}

using System.Net;
using Microsoft.Extensions.Time.Testing;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class LockoutTestsOnSqlite() : LockoutTests(DatabaseEngine.Sqlite);

public sealed class LockoutTestsOnPostgres() : LockoutTests(DatabaseEngine.Postgres);

/// <summary>
/// Login throttling on a test clock, with the client address taken from X-Forwarded-For (the test client connects
/// from loopback, which Development trusts as a proxy): a pair (email, address) locks after five failures in a row
/// for 5 minutes, then twice as long each time; an address locks after 20 failures over any emails; an email past
/// 10 failures from anywhere is only slowed.
/// </summary>
public abstract class LockoutTests : IdentityHostFixture
{
    private const string WrongPassword = "definitely-Not-it-42";

    private readonly FakeTimeProvider _clock;

    protected LockoutTests(DatabaseEngine engine) : this(engine, IdentityApp.NewClock())
    {
    }

    private LockoutTests(DatabaseEngine engine, FakeTimeProvider clock)
        : base(new Dictionary<string, string?> { ["Identity:Lockout:MaxFailedAttemptsPerAddress"] = "20" }, clock, engine) => _clock = clock;

    [Fact]
    public async Task Login_FifthFailure_LocksEvenTheRightPasswordFromThatAddressUntilThePeriodEnds()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        using var client = ClientFrom(NewAddress());

        for (var i = 1; i <= 4; i++)
        {
            using var failure = await client.LoginAsync(email, WrongPassword);
            await failure.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using var fifth = await client.LoginAsync(email, WrongPassword);
        await fifth.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal(TimeSpan.FromMinutes(5), fifth.Headers.RetryAfter?.Delta);

        _clock.Advance(TimeSpan.FromMinutes(2));
        using var locked = await client.LoginAsync(email);
        var problem = await locked.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal("Too many failed logins", problem.Title);
        Assert.Equal(TimeSpan.FromMinutes(3), locked.Headers.RetryAfter?.Delta);

        _clock.Advance(TimeSpan.FromMinutes(3));
        using var released = await client.LoginAsync(email);
        await released.ReadTokenAsync();
    }

    [Fact]
    public async Task Login_EachFurtherLockOfAPair_LastsTwiceAsLong()
    {
        var email = IdentityClient.NewEmail();
        using var client = ClientFrom(NewAddress());
        for (var i = 0; i < 5; i++)
        {
            (await client.LoginAsync(email, WrongPassword)).Dispose();
        }

        // Each wrong guess once a lock has passed locks again, for twice as long, up to an hour.
        foreach (var (waited, locked) in new[] { (5, 10), (10, 20), (20, 40), (40, 60), (60, 60) })
        {
            _clock.Advance(TimeSpan.FromMinutes(waited));
            using var again = await client.LoginAsync(email, WrongPassword);
            await again.ReadProblemAsync(HttpStatusCode.TooManyRequests);
            Assert.Equal(TimeSpan.FromMinutes(locked), again.Headers.RetryAfter?.Delta);
        }
    }

    // Gap 3: five wrong guesses from one address used to lock the account itself, for everyone.
    [Fact]
    public async Task Login_VictimFromAFreshAddress_SucceedsWhileTheAttackersAddressesAreLocked()
    {
        var victim = IdentityClient.NewEmail("victim");
        await Client.RegisterOkAsync(victim);
        var attackers = new[] { NewAddress(), NewAddress(), NewAddress() };
        foreach (var address in attackers)
        {
            using var attacker = ClientFrom(address);
            for (var i = 0; i < 5; i++)
            {
                (await CompleteAdvancingClockAsync(attacker.LoginAsync(victim, WrongPassword))).Dispose();
            }
        }

        // Past the account's soft limit (15 failures > 10): the victim's login is slowed, never refused.
        using var fresh = ClientFrom(NewAddress());
        using var login = await CompleteAdvancingClockAsync(fresh.LoginAsync(victim));
        await login.ReadTokenAsync();

        using var stillLocked = ClientFrom(attackers[0]);
        using var attackerWithRightPassword = await stillLocked.LoginAsync(victim);
        await attackerWithRightPassword.ReadProblemAsync(HttpStatusCode.TooManyRequests);
    }

    // Gap 4: check, verify and record used to race; 100 simultaneous guesses got far more than five checked.
    [Fact]
    public async Task Login_HundredConcurrentWrongGuesses_AtMostTheAllowedFewAreChecked_ThenEvenTheRightPasswordIsRefused()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        using var client = ClientFrom(NewAddress());

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => client.LoginAsync(email, WrongPassword)));
        var statuses = responses.Select(r => r.StatusCode).ToList();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.All(statuses, s => Assert.Contains(s, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        Assert.InRange(statuses.Count(s => s == HttpStatusCode.Unauthorized), 0, 4);
        using var right = await client.LoginAsync(email);
        await right.ReadProblemAsync(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Login_HundredConcurrentGuessesDuringALock_NoneGetsThrough_NotEvenTheRightPassword()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        using var client = ClientFrom(NewAddress());
        for (var i = 0; i < 5; i++)
        {
            (await client.LoginAsync(email, WrongPassword)).Dispose();
        }

        // The right password is the 96th of 100 simultaneous guesses.
        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => client.LoginAsync(email, i == 95 ? IdentityClient.GoodPassword : WrongPassword)));
        var statuses = responses.Select(r => r.StatusCode).ToList();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.TooManyRequests, s));
    }

    [Fact]
    public async Task Login_SuccessfulLogin_ForgetsEarlierFailures()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        using var client = ClientFrom(NewAddress());
        for (var i = 0; i < 4; i++)
        {
            (await client.LoginAsync(email, WrongPassword)).Dispose();
        }

        await client.LoginOkAsync(email);

        for (var i = 0; i < 4; i++)
        {
            using var failure = await client.LoginAsync(email, WrongPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, failure.StatusCode);
        }
    }

    [Fact]
    public async Task Login_FailuresFurtherApartThanTheWindow_DoNotAddUp()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        using var client = ClientFrom(NewAddress());
        for (var i = 0; i < 4; i++)
        {
            (await client.LoginAsync(email, WrongPassword)).Dispose();
        }

        _clock.Advance(TimeSpan.FromDays(1));

        using var fifth = await client.LoginAsync(email, WrongPassword);
        Assert.Equal(HttpStatusCode.Unauthorized, fifth.StatusCode);
    }

    [Fact]
    public async Task Login_UnknownEmail_LocksExactlyLikeAKnownOne()
    {
        var known = IdentityClient.NewEmail("known");
        var unknown = IdentityClient.NewEmail("unknown");
        await Client.RegisterOkAsync(known);
        using var client = ClientFrom(NewAddress());

        var knownStatuses = new List<HttpStatusCode>();
        var unknownStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            using var k = await client.LoginAsync(known, WrongPassword);
            using var u = await client.LoginAsync(unknown, WrongPassword);
            knownStatuses.Add(k.StatusCode);
            unknownStatuses.Add(u.StatusCode);
            Assert.Equal(k.Headers.RetryAfter?.Delta, u.Headers.RetryAfter?.Delta);
        }

        Assert.Equal(knownStatuses, unknownStatuses);
        Assert.Equal(HttpStatusCode.TooManyRequests, unknownStatuses[^1]);
    }

    [Fact]
    public async Task Login_LockOfOneAccount_DoesNotAffectAnotherFromTheSameAddress()
    {
        var victim = IdentityClient.NewEmail("victim");
        var bystander = IdentityClient.NewEmail("bystander");
        await Client.RegisterOkAsync(victim);
        await Client.RegisterOkAsync(bystander);
        using var client = ClientFrom(NewAddress());
        for (var i = 0; i < 5; i++)
        {
            (await client.LoginAsync(victim, WrongPassword)).Dispose();
        }

        await client.LoginOkAsync(bystander);
    }

    [Fact]
    public async Task Login_SprayingManyEmailsFromOneAddress_LocksTheAddress_NotTheAccounts()
    {
        var email = IdentityClient.NewEmail();
        await Client.RegisterOkAsync(email);
        using var sprayer = ClientFrom(NewAddress());
        for (var i = 0; i < 20; i++)
        {
            (await sprayer.LoginAsync(IdentityClient.NewEmail("sprayed"), WrongPassword)).Dispose();
        }

        using var refused = await sprayer.LoginAsync(email);
        await refused.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal(TimeSpan.FromMinutes(15), refused.Headers.RetryAfter?.Delta);
        await ClientFrom(NewAddress()).LoginOkAsync(email);
    }

    [Fact]
    public async Task Login_Ipv6AddressesOfOneSlash64_CountTogether()
    {
        var email = IdentityClient.NewEmail();
        var prefix = $"2001:db8:{Random.Shared.Next(0x10000):x}:{Random.Shared.Next(0x10000):x}";
        for (var i = 1; i <= 5; i++)
        {
            using var client = ClientFrom($"{prefix}::{i}");
            (await client.LoginAsync(email, WrongPassword)).Dispose();
        }

        using var sameNetwork = ClientFrom($"{prefix}:ffff:ffff:ffff:ffff");
        using var locked = await sameNetwork.LoginAsync(email, WrongPassword);
        await locked.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        using var otherNetwork = ClientFrom($"2001:db8:ffff:{Random.Shared.Next(0x10000):x}::1");
        using var open = await otherNetwork.LoginAsync(email, WrongPassword);
        await open.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    /// <summary>A client whose requests say, through the trusted loopback proxy, that they come from <paramref name="address"/>.</summary>
    private HttpClient ClientFrom(string address)
    {
        var client = App.CreateHttpClient();
        client.DefaultRequestHeaders.Add("X-Forwarded-For", address);
        return client;
    }

    private static string NewAddress() => $"10.{Random.Shared.Next(256)}.{Random.Shared.Next(256)}.{Random.Shared.Next(1, 255)}";

    /// <summary>Moves the test clock on while <paramref name="request"/> waits on it, until it answers (a minute at most).</summary>
    private async Task<HttpResponseMessage> CompleteAdvancingClockAsync(Task<HttpResponseMessage> request)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!request.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.WhenAny(request, Task.Delay(10, TestContext.Current.CancellationToken));
            _clock.Advance(TimeSpan.FromMilliseconds(100));
        }
        Assert.True(request.IsCompleted, "The login did not answer while the clock moved on.");
        return await request;
    }
}

public sealed class UntrustedForwardedForTestsOnSqlite() : UntrustedForwardedForTests(DatabaseEngine.Sqlite);

public sealed class UntrustedForwardedForTestsOnPostgres() : UntrustedForwardedForTests(DatabaseEngine.Postgres);

/// <summary>X-Forwarded-For from a peer that is not a configured trusted proxy is ignored.</summary>
public abstract class UntrustedForwardedForTests(DatabaseEngine engine) : IdentityHostFixture(new Dictionary<string, string?>
{
    ["Identity:TrustedProxies:0"] = "192.0.2.1",
}, engine: engine)
{
    [Fact]
    public async Task Login_ForwardedForFromAnUntrustedPeer_IsIgnored_SoChangingItDoesNotEscapeTheLock()
    {
        var email = IdentityClient.NewEmail();
        for (var i = 1; i <= 5; i++)
        {
            using var client = App.CreateHttpClient();
            client.DefaultRequestHeaders.Add("X-Forwarded-For", $"10.0.0.{i}");
            (await client.LoginAsync(email, "definitely-Not-it-42")).Dispose();
        }

        using var sixth = App.CreateHttpClient();
        sixth.DefaultRequestHeaders.Add("X-Forwarded-For", "10.0.0.6");
        using var locked = await sixth.LoginAsync(email, "definitely-Not-it-42");
        await locked.ReadProblemAsync(HttpStatusCode.TooManyRequests);
    }
}

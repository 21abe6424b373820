using Grpc.Core;
using Portico.Contracts.Loyalty.V1;

namespace Portico.Loyalty.Tests;

/// <summary>Who may call what: services accrue and revert for anyone; users read only their own points.</summary>
public sealed class AccessTests(LoyaltyFixture fixture) : IClassFixture<LoyaltyFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Accrue_WithAUserToken_IsPermissionDeniedAndEarnsNothing()
    {
        var user = LoyaltyFixture.NewUserId();

        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.Client.AccrueAsync(
            new AccrueRequest { UserId = user, OrderId = LoyaltyFixture.NewOrderId(), Amount = 100_000 }, fixture.UserHeaders(user), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal(0, await fixture.BalanceAsync(user));
    }

    [Fact]
    public async Task Revert_WithAUserToken_IsPermissionDenied()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        await fixture.AccrueAsync(user, order, 100_000);

        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.Client.RevertAsync(
            new RevertRequest { OrderId = order }, fixture.UserHeaders(user), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal(1000, await fixture.BalanceAsync(user));
    }

    [Fact]
    public async Task Accrue_WithAnAdminToken_IsAllowed()
    {
        var reply = await fixture.Client.AccrueAsync(
            new AccrueRequest { UserId = LoyaltyFixture.NewUserId(), OrderId = LoyaltyFixture.NewOrderId(), Amount = 1_000 },
            LoyaltyFixture.Bearer(fixture.Tokens.CreateToken("admin-1", roles: ["admin"])), cancellationToken: Ct);

        Assert.Equal(10, reply.PointsEarned);
    }

    [Fact]
    public async Task EveryCall_WithoutAToken_IsUnauthenticated()
    {
        var calls = new Func<Task>[]
        {
            () => fixture.Client.AccrueAsync(new AccrueRequest { UserId = "u", OrderId = "o", Amount = 1 }, cancellationToken: Ct).ResponseAsync,
            () => fixture.Client.RevertAsync(new RevertRequest { OrderId = "o" }, cancellationToken: Ct).ResponseAsync,
            () => fixture.Client.GetBalanceAsync(new GetBalanceRequest(), cancellationToken: Ct).ResponseAsync,
            () => fixture.Client.ListEntriesAsync(new ListEntriesRequest(), cancellationToken: Ct).ResponseAsync,
        };

        foreach (var call in calls)
        {
            var e = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        }
    }

    [Fact]
    public async Task GetBalance_WithAForgedToken_IsUnauthenticated()
    {
        var forger = new Portico.Tests.Common.TestTokenIssuer();

        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.Client.GetBalanceAsync(
            new GetBalanceRequest(), LoyaltyFixture.Bearer(forger.CreateToken("user-1")), cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
    }

    [Fact]
    public async Task GetBalance_WithAUserToken_ReturnsThatUsersBalance()
    {
        var user = LoyaltyFixture.NewUserId();
        await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 123_456);
        await fixture.AccrueAsync(LoyaltyFixture.NewUserId(), LoyaltyFixture.NewOrderId(), 999_999);

        var implicitUser = await fixture.Client.GetBalanceAsync(new GetBalanceRequest(), fixture.UserHeaders(user), cancellationToken: Ct);
        var explicitUser = await fixture.Client.GetBalanceAsync(new GetBalanceRequest { UserId = user }, fixture.UserHeaders(user), cancellationToken: Ct);

        Assert.Equal(new Balance { UserId = user, Points = 1234 }, implicitUser);
        Assert.Equal(implicitUser, explicitUser);
    }

    [Fact]
    public async Task GetBalance_NewUser_IsZero()
    {
        var user = LoyaltyFixture.NewUserId();

        var balance = await fixture.Client.GetBalanceAsync(new GetBalanceRequest(), fixture.UserHeaders(user), cancellationToken: Ct);

        Assert.Equal(new Balance { UserId = user, Points = 0 }, balance);
    }

    [Fact]
    public async Task GetBalanceAndListEntries_OfAnotherUserWithAUserToken_ArePermissionDenied()
    {
        var victim = LoyaltyFixture.NewUserId();
        await fixture.AccrueAsync(victim, LoyaltyFixture.NewOrderId(), 50_000);
        var attacker = fixture.UserHeaders(LoyaltyFixture.NewUserId());

        var balance = await Assert.ThrowsAsync<RpcException>(() =>
            fixture.Client.GetBalanceAsync(new GetBalanceRequest { UserId = victim }, attacker, cancellationToken: Ct).ResponseAsync);
        var entries = await Assert.ThrowsAsync<RpcException>(() =>
            fixture.Client.ListEntriesAsync(new ListEntriesRequest { UserId = victim }, attacker, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, balance.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, entries.StatusCode);
    }

    [Fact]
    public async Task GetBalance_WithAServiceTokenAndNoUser_IsInvalidArgumentNamingUserId()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() =>
            fixture.Client.GetBalanceAsync(new GetBalanceRequest(), fixture.ServiceHeaders, cancellationToken: Ct).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("user_id", Assert.Single(e.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>()!.FieldViolations).Field);
    }

    [Fact]
    public async Task ListEntries_WithAUserToken_ListsOnlyTheirOwnEntries()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        await fixture.AccrueAsync(user, order, 10_000);
        await fixture.AccrueAsync(LoyaltyFixture.NewUserId(), LoyaltyFixture.NewOrderId(), 10_000);

        var reply = await fixture.Client.ListEntriesAsync(new ListEntriesRequest(), fixture.UserHeaders(user), cancellationToken: Ct);

        var entry = Assert.Single(reply.Entries);
        Assert.Equal(order, entry.OrderId);
        Assert.Equal("", reply.NextPageToken);
    }
}

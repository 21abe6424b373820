using Google.Rpc;
using Grpc.Core;
using Portico.Contracts.Loyalty.V1;
using Portico.Tests.Common;

namespace Portico.Loyalty.Tests;

public sealed class RevertTestsOnSqlite(LoyaltyFixture fixture) : RevertTests(fixture), IClassFixture<LoyaltyFixture>;

public sealed class RevertTestsOnPostgres(PostgresLoyaltyFixture fixture) : RevertTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresLoyaltyFixture>;

public abstract class RevertTests(LoyaltyFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<RevertReply> RevertAsync(string orderId) =>
        fixture.Client.RevertAsync(new RevertRequest { OrderId = orderId }, fixture.ServiceHeaders, cancellationToken: Ct).ResponseAsync;

    [Fact]
    public async Task Revert_AccruedOrder_TakesItsPointsBackAndRestoresTheBalance()
    {
        var user = LoyaltyFixture.NewUserId();
        await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 30_000);
        var order = LoyaltyFixture.NewOrderId();
        await fixture.AccrueAsync(user, order, 45_678);
        Assert.Equal(756, await fixture.BalanceAsync(user));

        var reply = await RevertAsync(order);

        Assert.Equal(456, reply.PointsReverted);
        Assert.Equal(300, reply.Balance);
        Assert.Equal(300, await fixture.BalanceAsync(user));
    }

    [Fact]
    public async Task Revert_Twice_RepeatsTheFirstReplyAndWritesOneReversal()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        await fixture.AccrueAsync(user, order, 10_000);

        var first = await RevertAsync(order);
        await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 5_000);
        var again = await RevertAsync(order);

        Assert.Equal(first, again);
        Assert.Equal(50, await fixture.BalanceAsync(user));
        var entries = (await fixture.Client.ListEntriesAsync(new ListEntriesRequest { UserId = user }, fixture.ServiceHeaders, cancellationToken: Ct)).Entries;
        Assert.Equal([EntryKind.Accrual, EntryKind.Reversal, EntryKind.Accrual], entries.Select(e => e.Kind).Reverse());
        var reversal = Assert.Single(entries, e => e.Kind == EntryKind.Reversal);
        Assert.Equal((order, -100L, 10_000L, 0L), (reversal.OrderId, reversal.Points, reversal.Amount, reversal.BalanceAfter));
    }

    [Fact]
    public async Task Revert_ConcurrentRepeats_WriteOneReversal()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 10_000);
        await fixture.AccrueAsync(user, order, 20_000);

        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => RevertAsync(order), Ct)));

        Assert.All(replies, r => Assert.Equal(new RevertReply { PointsReverted = 200, Balance = 100 }, r));
        Assert.Equal(100, await fixture.BalanceAsync(user));
    }

    [Fact]
    public async Task Accrue_AfterRevert_IsFailedPreconditionAndDoesNotEarnAgain()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        await fixture.AccrueAsync(user, order, 10_000);
        await RevertAsync(order);

        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.AccrueAsync(user, order, 10_000));

        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains(order, e.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(0, await fixture.BalanceAsync(user));
    }

    [Fact]
    public async Task Revert_OrderNeverAccrued_LeavesATombstone_SoALaterAccrualIsRefused()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();

        var reply = await RevertAsync(order);
        var again = await RevertAsync(order);
        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.AccrueAsync(user, order, 10_000));

        Assert.Equal(new RevertReply { PointsReverted = 0, Balance = 0, NothingAccrued = true }, reply);
        Assert.Equal(reply, again);
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Equal(0, await fixture.BalanceAsync(user));
        Assert.Empty((await fixture.Client.ListEntriesAsync(new ListEntriesRequest { UserId = user }, fixture.ServiceHeaders, cancellationToken: Ct)).Entries);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\t")]
    [InlineData("order-\u0000")]
    public async Task Revert_BadOrderId_IsInvalidArgumentNamingOrderId(string orderId)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => RevertAsync(orderId));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("order_id", Assert.Single(e.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations).Field);
    }

    [Fact]
    public async Task Revert_OrderThatEarnedNothing_RevertsZeroPoints()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        await fixture.AccrueAsync(user, order, 99);

        var reply = await RevertAsync(order);

        Assert.Equal(new RevertReply { PointsReverted = 0, Balance = 0 }, reply);
    }
}

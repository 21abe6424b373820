using Google.Rpc;
using Grpc.Core;
using Portico.Contracts.Loyalty.V1;
using Portico.Tests.Common;

namespace Portico.Loyalty.Tests;

public sealed class AccrueTestsOnSqlite(LoyaltyFixture fixture) : AccrueTests(fixture), IClassFixture<LoyaltyFixture>;

public sealed class AccrueTestsOnPostgres(PostgresLoyaltyFixture fixture) : AccrueTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresLoyaltyFixture>;

public abstract class AccrueTests(LoyaltyFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(99, 0)]
    [InlineData(100, 1)]
    [InlineData(199, 1)]
    [InlineData(12_345, 123)]
    [InlineData(1_000_000_000_000, 10_000_000_000)]
    public async Task Accrue_EarnsOnePercentRoundedDown(long amount, long points)
    {
        var user = LoyaltyFixture.NewUserId();

        var reply = await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), amount);

        Assert.Equal(points, reply.PointsEarned);
        Assert.Equal(points, reply.Balance);
        Assert.Equal(points, await fixture.BalanceAsync(user));
    }

    [Fact]
    public async Task Accrue_200ConcurrentCallsForDistinctOrdersOfOneUser_BalanceIsTheExactSum()
    {
        var user = LoyaltyFixture.NewUserId();
        var amounts = Enumerable.Range(0, 200).Select(i => 10_000L + (i * 137)).ToArray();

        var replies = await Task.WhenAll(amounts.Select(amount => Task.Run(() => fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), amount), Ct)));

        var expected = amounts.Sum(a => a / 100);
        Assert.Equal(expected, await fixture.BalanceAsync(user));
        Assert.Equal(amounts.Select(a => a / 100).Order(), replies.Select(r => r.PointsEarned).Order());
        // Each reply saw its own step of one serial history: the balances after are all different, the largest is the total.
        Assert.Equal(200, replies.Select(r => r.Balance).Distinct().Count());
        Assert.Equal(expected, replies.Max(r => r.Balance));

        var entries = await ListAllAsync(user);
        Assert.Equal(200, entries.Count);
        Assert.Equal(expected, entries[0].BalanceAfter);
    }

    [Fact]
    public async Task Accrue_SameOrderTwice_WritesOneEntryAndRepeatsTheFirstReply()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        var first = await fixture.AccrueAsync(user, order, 50_000);
        await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 10_000); // the balance moves on

        var again = await fixture.AccrueAsync(user, order, 50_000);

        Assert.Equal(first, again);
        Assert.Equal(500, again.PointsEarned);
        Assert.Equal(600, await fixture.BalanceAsync(user));
        Assert.Single(await ListAllAsync(user), e => e.OrderId == order);
    }

    [Fact]
    public async Task Accrue_SameOrderConcurrently_WritesOneEntry()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();

        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => fixture.AccrueAsync(user, order, 70_000), Ct)));

        Assert.All(replies, r => Assert.Equal(new AccrueReply { PointsEarned = 700, Balance = 700 }, r));
        Assert.Equal(700, await fixture.BalanceAsync(user));
        Assert.Single(await ListAllAsync(user));
    }

    [Fact]
    public async Task Accrue_SameOrderWithAnotherAmountOrUser_IsAlreadyExistsAndChangesNothing()
    {
        var user = LoyaltyFixture.NewUserId();
        var other = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        await fixture.AccrueAsync(user, order, 20_000);

        var otherAmount = await Assert.ThrowsAsync<RpcException>(() => fixture.AccrueAsync(user, order, 30_000));
        var otherUser = await Assert.ThrowsAsync<RpcException>(() => fixture.AccrueAsync(other, order, 20_000));

        Assert.Equal(StatusCode.AlreadyExists, otherAmount.StatusCode);
        Assert.Equal(StatusCode.AlreadyExists, otherUser.StatusCode);
        Assert.Contains(order, otherAmount.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(200, await fixture.BalanceAsync(user));
        Assert.Equal(0, await fixture.BalanceAsync(other));
    }

    [Theory]
    [InlineData("", "order-1", 1000, "user_id")]
    [InlineData("   ", "order-1", 1000, "user_id")]
    [InlineData("user-1", "", 1000, "order_id")]
    [InlineData("user-1", "order-\n1", 1000, "order_id")]
    [InlineData("user-1", "order-1", 0, "amount")]
    [InlineData("user-1", "order-1", -5000, "amount")]
    [InlineData("user-1", "order-1", 1_000_000_000_001, "amount")]
    public async Task Accrue_BadArgument_IsInvalidArgumentNamingTheField(string userId, string orderId, long amount, string field)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.AccrueAsync(userId, orderId, amount));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        var badRequest = e.GetRpcStatus()?.GetDetail<BadRequest>();
        Assert.NotNull(badRequest);
        var violation = Assert.Single(badRequest.FieldViolations);
        Assert.Equal(field, violation.Field);
        Assert.Contains(field, violation.Description, StringComparison.Ordinal);
        Assert.Contains(field, e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Accrue_EveryArgumentBad_NamesEveryField()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.AccrueAsync("", new string('x', 101), 0));

        var badRequest = e.GetRpcStatus()!.GetDetail<BadRequest>()!;
        Assert.Equal(["user_id", "order_id", "amount"], badRequest.FieldViolations.Select(v => v.Field));
    }

    [Fact]
    public async Task Accrue_IdOfExactly100Characters_IsAccepted()
    {
        var user = "u" + new string('1', 99);

        var reply = await fixture.AccrueAsync(user, "o" + new string('2', 99), 1000);

        Assert.Equal(10, reply.PointsEarned);
    }

    private async Task<List<LedgerEntry>> ListAllAsync(string userId)
    {
        var entries = new List<LedgerEntry>();
        var token = "";
        do
        {
            var page = await fixture.Client.ListEntriesAsync(
                new ListEntriesRequest { UserId = userId, PageSize = 100, PageToken = token }, fixture.ServiceHeaders, cancellationToken: Ct);
            entries.AddRange(page.Entries);
            token = page.NextPageToken;
        }
        while (token.Length > 0);
        return entries;
    }
}

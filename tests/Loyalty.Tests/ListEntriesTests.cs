using Google.Rpc;
using Grpc.Core;
using Portico.Contracts.Loyalty.V1;
using Portico.Tests.Common;

namespace Portico.Loyalty.Tests;

public sealed class ListEntriesTestsOnSqlite(LoyaltyFixture fixture) : ListEntriesTests(fixture), IClassFixture<LoyaltyFixture>;

public sealed class ListEntriesTestsOnPostgres(PostgresLoyaltyFixture fixture) : ListEntriesTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresLoyaltyFixture>;

public abstract class ListEntriesTests(LoyaltyFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<ListEntriesReply> ListAsync(string userId, int pageSize = 0, string pageToken = "") =>
        fixture.Client.ListEntriesAsync(new ListEntriesRequest { UserId = userId, PageSize = pageSize, PageToken = pageToken },
            fixture.ServiceHeaders, cancellationToken: Ct).ResponseAsync;

    [Fact]
    public async Task ListEntries_PagesThroughNewestFirstUntilTheTokenIsEmpty()
    {
        var user = LoyaltyFixture.NewUserId();
        var orders = Enumerable.Range(1, 7).Select(i => $"order-{i}-{Guid.NewGuid():N}").ToArray();
        foreach (var (order, i) in orders.Select((o, i) => (o, i)))
        {
            await fixture.AccrueAsync(user, order, (i + 1) * 1_000);
        }

        var first = await ListAsync(user, pageSize: 3);
        var second = await ListAsync(user, pageSize: 3, first.NextPageToken);
        var third = await ListAsync(user, pageSize: 3, second.NextPageToken);

        Assert.Equal(orders.Reverse(), first.Entries.Concat(second.Entries).Concat(third.Entries).Select(e => e.OrderId));
        Assert.Single(third.Entries);
        Assert.NotEqual("", first.NextPageToken);
        Assert.Equal("", third.NextPageToken);
        var newest = first.Entries[0];
        Assert.Equal((EntryKind.Accrual, 70L, 7_000L, 280L), (newest.Kind, newest.Points, newest.Amount, newest.BalanceAfter));
        Assert.InRange(newest.CreatedAt.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    [Fact]
    public async Task ListEntries_DefaultPageSizeIs20AndLargerSizesAreCappedAt100()
    {
        var user = LoyaltyFixture.NewUserId();
        await Task.WhenAll(Enumerable.Range(0, 105).Select(_ => fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 100)));

        var byDefault = await ListAsync(user);
        var capped = await ListAsync(user, pageSize: 1000);

        Assert.Equal(20, byDefault.Entries.Count);
        Assert.Equal(100, capped.Entries.Count);
        Assert.Equal(5, (await ListAsync(user, pageSize: 100, capped.NextPageToken)).Entries.Count);
    }

    [Fact]
    public async Task ListEntries_NegativePageSize_IsInvalidArgumentNamingPageSize()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => ListAsync(LoyaltyFixture.NewUserId(), pageSize: -1));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("page_size", Assert.Single(e.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations).Field);
    }

    [Theory]
    [InlineData("not a token")]
    [InlineData("MTIz")] // "123": no user
    [InlineData("LTE6dXNlcg")] // "-1:user"
    public async Task ListEntries_MadeUpPageToken_IsInvalidArgumentNamingPageToken(string token)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => ListAsync(LoyaltyFixture.NewUserId(), pageToken: token));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("page_token", Assert.Single(e.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations).Field);
    }

    [Fact]
    public async Task ListEntries_PageTokenOfAnotherUsersListing_IsInvalidArgument()
    {
        var user = LoyaltyFixture.NewUserId();
        await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 100);
        await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 100);
        var token = (await ListAsync(user, pageSize: 1)).NextPageToken;

        var e = await Assert.ThrowsAsync<RpcException>(() => ListAsync(LoyaltyFixture.NewUserId(), pageToken: token));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }
}

extern alias LoyaltyService;

using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Portico.Contracts.Loyalty.V1;
using Portico.Tests.Common;
using LoyaltyDbContext = LoyaltyService::Portico.Loyalty.Infrastructure.LoyaltyDbContext;

namespace Portico.Loyalty.Tests;

public sealed class TombstoneRaceTestsOnSqlite(LoyaltyFixture fixture) : TombstoneRaceTests(fixture), IClassFixture<LoyaltyFixture>;

public sealed class TombstoneRaceTestsOnPostgres(PostgresLoyaltyFixture fixture) : TombstoneRaceTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresLoyaltyFixture>;

/// <summary>
/// Issue 26, failure 6: a Revert that arrives before its Accrue must leave a marker, so the Accrue is refused. Fifty
/// pairs on fifty orders, each pair's two calls released together in a random order, against the real Loyalty host on
/// SQLite and on PostgreSQL: no reverted order keeps points, whatever came first.
/// </summary>
public abstract class TombstoneRaceTests(LoyaltyFixture fixture)
{
    private const int Pairs = 50;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Fixture_RunsLoyaltyOnItsEngine()
    {
        await using var scope = fixture.App.Services.CreateAsyncScope();

        Assert.Equal(ServiceTestDatabase.ProviderName(fixture.Engine), scope.ServiceProvider.GetRequiredService<LoyaltyDbContext>().Database.ProviderName);
    }

    [Fact]
    public async Task FiftyConcurrentAccrueRevertPairs_LeaveNoPointsForAnyRevertedOrder()
    {
        var random = new Random(2026);
        var orders = Enumerable.Range(0, Pairs).Select(_ => (User: LoyaltyFixture.NewUserId(), Order: LoyaltyFixture.NewOrderId())).ToList();
        using var start = new SemaphoreSlim(0);
        var calls = new List<Task<string>>();
        foreach (var (user, order) in orders)
        {
            var accrue = Call(start, async () =>
            {
                await fixture.AccrueAsync(user, order, 10_000);
                return "accrued";
            });
            var revert = Call(start, async () =>
            {
                var reply = await fixture.Client.RevertAsync(new RevertRequest { OrderId = order }, fixture.ServiceHeaders, cancellationToken: Ct);
                return reply.NothingAccrued ? "tombstoned" : "reverted";
            });
            calls.AddRange(random.Next(2) == 0 ? [accrue, revert] : [revert, accrue]);
        }
        start.Release(calls.Count);
        var outcomes = await Task.WhenAll(calls);

        var balances = await Task.WhenAll(orders.Select(o => fixture.BalanceAsync(o.User)));
        var counts = outcomes.GroupBy(o => o).ToDictionary(g => g.Key, g => g.Count());
        TestContext.Current.SendDiagnosticMessage($"{Pairs} pairs: " + string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key}={c.Value}"))
            + $"; orders left with points: {balances.Count(b => b != 0)}");
        TestContext.Current.TestOutputHelper?.WriteLine($"{Pairs} pairs: " + string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key}={c.Value}"))
            + $"; orders left with points: {balances.Count(b => b != 0)}");

        Assert.All(balances, b => Assert.Equal(0, b));
        // Every revert answered; each accrual either landed before its revert or was refused after it.
        Assert.Equal(Pairs, counts.GetValueOrDefault("reverted") + counts.GetValueOrDefault("tombstoned"));
        Assert.Equal(Pairs, counts.GetValueOrDefault("accrued") + counts.GetValueOrDefault("refused"));
        Assert.Equal(counts.GetValueOrDefault("reverted"), counts.GetValueOrDefault("accrued"));
    }

    private static Task<string> Call(SemaphoreSlim start, Func<Task<string>> call) => Task.Run(async () =>
    {
        await start.WaitAsync(Ct);
        try
        {
            return await call();
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
        {
            return "refused";
        }
    }, Ct);
}

extern alias LoyaltyService;

using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portico.Data;
using LoyaltyService::Portico.Loyalty.Infrastructure;
using LoyaltyService::Portico.Loyalty.Ledger;
using Portico.Tests.Common;

namespace Portico.Loyalty.Tests;

/// <summary>The ledger's storage: engine choice from the connection string, the PostgreSQL model, append-only entries, durability.</summary>
public sealed class LedgerDatabaseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("Data Source=loyalty.db", false)]
    [InlineData("Data Source=/var/lib/portico/loyalty.db;Cache=Shared", false)]
    [InlineData("Host=localhost;Database=loyalty;Username=portico;Password=secret", true)]
    [InlineData("Server=db.internal;Port=5432;Database=loyalty", true)]
    public void IsPostgres_FollowsTheConnectionString(string connectionString, bool expected)
    {
        Assert.Equal(expected, ServiceDatabase.IsPostgres(connectionString));
    }

    [Fact]
    public void PostgresModel_HasTheLedgerTheAccountsAndTheirGuards()
    {
        var options = new DbContextOptionsBuilder<LoyaltyDbContext>().UseNpgsql("Host=localhost;Database=loyalty").Options;
        using var db = new LoyaltyDbContext(options);

        var script = db.Database.GenerateCreateScript();

        Assert.Contains("CREATE TABLE \"LedgerEntries\"", script, StringComparison.Ordinal);
        Assert.Contains("CREATE TABLE \"Accounts\"", script, StringComparison.Ordinal);
        Assert.Contains("CONSTRAINT \"CK_Accounts_Balance\" CHECK (\"Balance\" >= 0)", script, StringComparison.Ordinal);
        Assert.Contains("CREATE UNIQUE INDEX \"IX_LedgerEntries_OrderId_Kind\"", script, StringComparison.Ordinal);
        Assert.Contains("timestamp with time zone", script, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LedgerEntries_CannotBeChangedOrRemoved()
    {
        await using var fixture = new LoyaltyFixture();
        await fixture.InitializeAsync();
        var user = LoyaltyFixture.NewUserId();
        await fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 10_000);

        await using var scope = fixture.App.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LoyaltyDbContext>();
        var entry = await db.Entries.SingleAsync(e => e.UserId == user, Ct);

        entry.Points = 1_000_000;
        await Assert.ThrowsAsync<InvalidOperationException>(() => db.SaveChangesAsync(Ct));
        db.ChangeTracker.Clear();
        db.Entries.Remove(entry);
        await Assert.ThrowsAsync<InvalidOperationException>(() => db.SaveChangesAsync(Ct));
        Assert.Equal(100, await fixture.BalanceAsync(user));
    }

    [Fact]
    public async Task Balance_SurvivesARestartOnTheSameFile()
    {
        var path = TestDatabases.NewPath("loyalty");
        var user = LoyaltyFixture.NewUserId();
        try
        {
            await using (var first = new LoyaltyFixture { DatabasePath = path })
            {
                await first.InitializeAsync();
                await first.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 250_000);
            }

            await using var second = new LoyaltyFixture { DatabasePath = path };
            await second.InitializeAsync();
            Assert.Equal(2500, await second.BalanceAsync(user));
        }
        finally
        {
            TestDatabases.Delete(path);
        }
    }

    [Fact]
    public void PointsFor_IsOnePercentRoundedDown()
    {
        Assert.Equal([0L, 0L, 1L, 1L, 2L], new long[] { 1, 99, 100, 199, 200 }.Select(LedgerRules.PointsFor));
    }
}

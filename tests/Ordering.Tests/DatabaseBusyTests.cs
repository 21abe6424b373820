using System.Diagnostics;
using System.Net;
using Microsoft.Data.Sqlite;
using static Portico.Ordering.Tests.OrderingHttp;

namespace Portico.Ordering.Tests;

/// <summary>
/// Issue 26, failure 8: with Ordering's SQLite file write-locked by a second connection (a real write transaction), an
/// order is a 503 problem with Retry-After after the short busy timeout (not a 500 after 30 s), and goes through once
/// the lock is released.
/// </summary>
public sealed class DatabaseBusyTests : IAsyncLifetime
{
    private readonly OrderingFixture _fixture = new()
    {
        Settings = new Dictionary<string, string?> { ["Ordering:Database:BusyTimeout"] = "00:00:01", ["Ordering:Database:RetryAfter"] = "00:00:03" },
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => _fixture.InitializeAsync();

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task PlaceAndCancel_WhileAnotherConnectionHoldsTheWriteLock_Are503WithRetryAfter_ThenSucceed()
    {
        var user = OrderingFixture.NewUserId();
        using var client = _fixture.ClientFor(user);
        var placed = await client.PlaceAsync((1, 1));

        await using (var locker = new SqliteConnection($"Data Source={_fixture.OrderingDatabasePath};Pooling=False"))
        {
            await locker.OpenAsync(Ct);
            await using var transaction = (SqliteTransaction)await locker.BeginTransactionAsync(Ct); // BEGIN IMMEDIATE: the write lock
            var started = Stopwatch.StartNew();

            using var place = await client.PostOrderAsync(OrderBody((2, 1)), Guid.NewGuid().ToString());
            using var cancel = await client.PostAsync($"api/orders/{placed.Id}/cancel", null, Ct);

            var problem = await place.ReadProblemAsync(HttpStatusCode.ServiceUnavailable);
            Assert.Equal(TimeSpan.FromSeconds(3), place.Headers.RetryAfter?.Delta);
            Assert.DoesNotContain("Sqlite", problem.Detail, StringComparison.OrdinalIgnoreCase);
            await cancel.ReadProblemAsync(HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(cancel.Headers.RetryAfter);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(15), $"Both answers took {started.Elapsed}: the busy timeout is not short.");
            await transaction.RollbackAsync(Ct);
        }

        Assert.Equal(HttpStatusCode.Created, (await client.PostOrderAsync(OrderBody((2, 1)))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"api/orders/{placed.Id}/cancel", null, Ct)).StatusCode);
    }
}

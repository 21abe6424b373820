using System.Net;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Portico.Contracts.Loyalty.V1;

namespace Portico.Loyalty.Tests;

/// <summary>
/// Issue 26, failure 8: with the SQLite file write-locked by another connection (a real second connection holding a
/// write transaction), Accrue fails fast with UNAVAILABLE and a retry delay, never UNKNOWN with exception text; once
/// the lock is gone it succeeds.
/// </summary>
public sealed class DatabaseBusyTests : IAsyncLifetime
{
    private readonly LoyaltyFixture _fixture = new() { Settings = new Dictionary<string, string?> { ["Loyalty:Database:BusyTimeout"] = "00:00:01" } };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => _fixture.InitializeAsync();

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Accrue_WhileAnotherConnectionHoldsTheWriteLock_IsUnavailableWithoutExceptionText_ThenSucceeds()
    {
        var user = LoyaltyFixture.NewUserId();
        var order = LoyaltyFixture.NewOrderId();
        await _fixture.AccrueAsync(user, LoyaltyFixture.NewOrderId(), 1_000); // the schema exists, the file is in WAL mode

        await using (var locker = new SqliteConnection($"Data Source={_fixture.App.DatabasePath};Pooling=False"))
        {
            await locker.OpenAsync(Ct);
            await using var transaction = (SqliteTransaction)await locker.BeginTransactionAsync(Ct); // BEGIN IMMEDIATE: the write lock
            var started = TimeProvider.System.GetTimestamp();

            var e = await Assert.ThrowsAsync<RpcException>(() => _fixture.AccrueAsync(user, order, 10_000));

            var elapsed = TimeProvider.System.GetElapsedTime(started);
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
            Assert.DoesNotContain("Exception", e.Status.Detail, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("SQLite", e.Status.Detail, StringComparison.OrdinalIgnoreCase);
            Assert.NotNull(e.GetRpcStatus()?.GetDetail<RetryInfo>());
            Assert.True(elapsed < TimeSpan.FromSeconds(10), $"UNAVAILABLE came after {elapsed}, not after the short busy timeout.");
            // Reads are not blocked by the writer (WAL).
            Assert.Equal(10, await _fixture.BalanceAsync(user));
            await transaction.RollbackAsync(Ct);
        }

        var reply = await _fixture.AccrueAsync(user, order, 10_000);
        Assert.Equal(110, reply.Balance);
    }

    [Fact]
    public async Task Reconcile_WhileTheDatabaseIsLocked_Is503WithRetryAfter()
    {
        await _fixture.AccrueAsync(LoyaltyFixture.NewUserId(), LoyaltyFixture.NewOrderId(), 1_000);
        await using var locker = new SqliteConnection($"Data Source={_fixture.App.DatabasePath};Pooling=False");
        await locker.OpenAsync(Ct);
        // EXCLUSIVE: not even readers get in, so the reconciler's first read fails busy.
        await using (var command = locker.CreateCommand())
        {
            command.CommandText = "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE Accounts SET Balance = Balance WHERE 0;";
            await command.ExecuteNonQueryAsync(Ct);
        }
        using var http = new HttpClient { BaseAddress = _fixture.App.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new("Bearer", _fixture.Tokens.CreateToken("admin-1", roles: ["admin"]));

        using var response = await http.PostAsync("admin/reconcile", null, Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.RetryAfter);
    }
}

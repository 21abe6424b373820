using Microsoft.EntityFrameworkCore;
using Portico.Loyalty.Infrastructure;
using Portico.Messaging;
using Portico.Messaging.Inbox;

namespace Portico.Loyalty.Ledger;

/// <summary>What became of an accrual or a revert.</summary>
public enum LedgerOutcome
{
    /// <summary>A new entry was written.</summary>
    Written,

    /// <summary>The same request was carried out before; <see cref="LedgerChange"/> repeats its result.</summary>
    Replayed,

    /// <summary>The order was accrued before with another user or amount.</summary>
    Conflict,

    /// <summary>An accrual of an order that was reverted (before or after it was accrued): refused.</summary>
    OrderReverted,

    /// <summary>A revert of an order that earned nothing yet: the order is now marked reverted (a tombstone), nothing taken back.</summary>
    Tombstoned,

    /// <summary>The revert would take the balance below zero.</summary>
    InsufficientBalance,
}

/// <summary>The result of an accrual or a revert: the points of the entry and the balance right after it.</summary>
public readonly record struct LedgerChange(LedgerOutcome Outcome, long Points, long Balance);

/// <summary>One page of a user's entries, newest first, and the id to continue below.</summary>
public sealed record LedgerPage(IReadOnlyList<LedgerEntry> Entries, long? NextBeforeId);

/// <summary>
/// The points ledger: accruals and reversals, each an appended entry plus the account's new balance in one
/// transaction. Writes for one user never interleave (see <see cref="SqliteWriteGate"/> for SQLite; on
/// PostgreSQL the account row is locked with <c>SELECT … FOR UPDATE</c>), and the unique index on
/// (order, kind) keeps a second accrual or reversal of an order out whatever the timing. Every order the ledger
/// has seen has a <see cref="LedgerOrder"/> row: a revert marks it reverted, and one that comes first writes it
/// reverted, so an accrual is refused whatever the order in which the two arrive.
/// </summary>
public sealed partial class PointsLedger(LoyaltyDbContext db, SqliteWriteGate gate, TimeProvider timeProvider, ILogger<PointsLedger> logger)
{
    /// <summary>The consumer name of Loyalty's <c>OrderCancelled</c> handler in the inbox and aggregate sequences.</summary>
    public const string OrderCancelledConsumer = "loyalty.order-cancelled";

    private const int MaxConflictRetries = 5;

    public Task<LedgerChange> AccrueAsync(string userId, string orderId, long amount, CancellationToken cancellationToken) =>
        RetryOnConflictAsync(() => WriteAsync(async isSqlite =>
        {
            var account = await AccountAsync(isSqlite, userId, cancellationToken);
            var order = await db.Orders.FindAsync([orderId], cancellationToken);
            if (order is { Reverted: true })
            {
                return new LedgerChange(LedgerOutcome.OrderReverted, 0, account.Balance);
            }
            if (await FindAsync(orderId, LedgerEntryKind.Accrual, cancellationToken) is { } existing)
            {
                return Repeat(existing, userId, amount);
            }
            var points = LedgerRules.PointsFor(amount);
            account.Balance = checked(account.Balance + points);
            Append(userId, orderId, LedgerEntryKind.Accrual, points, amount, account.Balance);
            if (order is null)
            {
                db.Orders.Add(new LedgerOrder { OrderId = orderId, UpdatedAt = timeProvider.GetUtcNow() });
            }
            Log.Accrued(logger, points, orderId, userId, account.Balance);
            return new LedgerChange(LedgerOutcome.Written, points, account.Balance);
        }, message: null, cancellationToken), cancellationToken);

    public Task<LedgerChange> RevertAsync(string orderId, CancellationToken cancellationToken) =>
        RetryOnConflictAsync(() => WriteAsync(isSqlite => RevertInTransactionAsync(isSqlite, orderId, cancellationToken), message: null, cancellationToken), cancellationToken);

    /// <summary>
    /// Reverts the order of an <c>OrderCancelled</c> event, once per message and in the order's event order: the revert,
    /// the inbox row and the order's last applied sequence are saved in one transaction. Null when the message was a
    /// duplicate or stale and nothing was done.
    /// </summary>
    public async Task<LedgerChange?> RevertForEventAsync(string orderId, MessageContext message, CancellationToken cancellationToken)
    {
        var change = await RetryOnConflictAsync(() => WriteAsync(isSqlite => RevertInTransactionAsync(isSqlite, orderId, cancellationToken), message, cancellationToken), cancellationToken);
        return change.Outcome == SkippedOutcome ? null : change;
    }

    private async Task<LedgerChange> RevertInTransactionAsync(bool isSqlite, string orderId, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        if (await FindAsync(orderId, LedgerEntryKind.Accrual, cancellationToken) is not { } accrual)
        {
            var order = await db.Orders.FindAsync([orderId], cancellationToken);
            if (order is null)
            {
                // First to arrive: the tombstone. An accrual racing it inserts the same key, and one of the two fails.
                db.Orders.Add(new LedgerOrder { OrderId = orderId, Reverted = true, UpdatedAt = now });
                Log.Tombstoned(logger, orderId);
                return new LedgerChange(LedgerOutcome.Tombstoned, 0, 0);
            }
            if (order.Reverted)
            {
                return new LedgerChange(LedgerOutcome.Tombstoned, 0, 0);
            }
            // The accrual committed between two statements of this transaction (PostgreSQL): start again to see it.
            throw new LedgerConflictException();
        }

        // Entries never change, so the accrual read here is still true once the account is locked.
        var account = await AccountAsync(isSqlite, accrual.UserId, cancellationToken);
        if (await FindAsync(orderId, LedgerEntryKind.Reversal, cancellationToken) is { } reversal)
        {
            return new LedgerChange(LedgerOutcome.Replayed, -reversal.Points, reversal.BalanceAfter);
        }
        if (account.Balance < accrual.Points)
        {
            return new LedgerChange(LedgerOutcome.InsufficientBalance, accrual.Points, account.Balance);
        }
        account.Balance -= accrual.Points;
        Append(accrual.UserId, orderId, LedgerEntryKind.Reversal, -accrual.Points, accrual.Amount, account.Balance);
        if (await db.Orders.FindAsync([orderId], cancellationToken) is { } marked)
        {
            marked.Reverted = true;
            marked.UpdatedAt = now;
        }
        else
        {
            db.Orders.Add(new LedgerOrder { OrderId = orderId, Reverted = true, UpdatedAt = now });
        }
        Log.Reverted(logger, accrual.Points, orderId, accrual.UserId, account.Balance);
        return new LedgerChange(LedgerOutcome.Written, accrual.Points, account.Balance);
    }

    /// <summary>Whether the order earned points that were not taken back, and whether it is marked reverted.</summary>
    public async Task<(LedgerEntry? Accrual, bool Reverted)> GetOrderAsync(string orderId, CancellationToken cancellationToken)
    {
        var accrual = await FindAsync(orderId, LedgerEntryKind.Accrual, cancellationToken);
        var reverted = await db.Orders.AsNoTracking().AnyAsync(o => o.OrderId == orderId && o.Reverted, cancellationToken);
        return (accrual, reverted);
    }

    public async Task<long> GetBalanceAsync(string userId, CancellationToken cancellationToken) =>
        await db.Accounts.AsNoTracking().Where(a => a.UserId == userId).Select(a => (long?)a.Balance).SingleOrDefaultAsync(cancellationToken) ?? 0;

    /// <summary>Up to <paramref name="pageSize"/> entries of the user with ids below <paramref name="beforeId"/>, newest first.</summary>
    public async Task<LedgerPage> ListAsync(string userId, int pageSize, long? beforeId, CancellationToken cancellationToken)
    {
        var query = db.Entries.AsNoTracking().Where(e => e.UserId == userId);
        if (beforeId is { } before)
        {
            query = query.Where(e => e.Id < before);
        }
        var entries = await query.OrderByDescending(e => e.Id).Take(pageSize + 1).ToListAsync(cancellationToken);
        if (entries.Count <= pageSize)
        {
            return new LedgerPage(entries, null);
        }
        entries.RemoveAt(pageSize);
        return new LedgerPage(entries, entries[^1].Id);
    }

    /// <summary>Outcome of a message that was a duplicate or stale: nothing to do (internal to <see cref="RevertForEventAsync"/>).</summary>
    private const LedgerOutcome SkippedOutcome = (LedgerOutcome)(-1);

    /// <summary>
    /// Runs <paramref name="change"/> inside one transaction, committed when it wrote something (or recorded
    /// <paramref name="message"/>). On SQLite the gate is held and the transaction is <c>BEGIN IMMEDIATE</c>: the
    /// file's write lock is taken before anything is read, so a change sees everything committed before it.
    /// </summary>
    private async Task<LedgerChange> WriteAsync(Func<bool, Task<LedgerChange>> change, MessageContext? message, CancellationToken cancellationToken)
    {
        var isSqlite = db.Database.IsSqlite();
        using var lease = await gate.EnterAsync(isSqlite, cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        try
        {
            InOrderCheck? check = null;
            if (message is not null)
            {
                check = await db.CheckInOrderAsync(message, OrderCancelledConsumer, cancellationToken);
                if (check.Disposition == MessageDisposition.Duplicate)
                {
                    return new LedgerChange(SkippedOutcome, 0, 0);
                }
            }
            var result = check is { Disposition: MessageDisposition.Stale } ? new LedgerChange(SkippedOutcome, 0, 0) : await change(isSqlite);
            if (message is not null)
            {
                db.RecordInOrder(message, OrderCancelledConsumer, check!, timeProvider);
            }
            if (result.Outcome is LedgerOutcome.Written or LedgerOutcome.Tombstoned || message is not null)
            {
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
            }
            return result;
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    /// <summary>
    /// Runs a write again when it lost a race it could not see coming: a unique key or concurrency token taken by
    /// another transaction (on SQLite only another process; on PostgreSQL any concurrent request). The next attempt
    /// sees the winner's rows and answers from them.
    /// </summary>
    private static async Task<LedgerChange> RetryOnConflictAsync(Func<Task<LedgerChange>> write, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return await write();
            }
            catch (Exception e) when (attempt < MaxConflictRetries
                && (e is LedgerConflictException || (e is DbUpdateException update && InOrderDbContextExtensions.IsConflict(update))))
            {
                // Look again.
            }
        }
    }

    private Task<PointsAccount> AccountAsync(bool isSqlite, string userId, CancellationToken cancellationToken) =>
        isSqlite ? FindOrAddAccountAsync(userId, cancellationToken) : LockAccountAsync(userId, cancellationToken);

    private async Task<PointsAccount> FindOrAddAccountAsync(string userId, CancellationToken cancellationToken)
    {
        if (await db.Accounts.FindAsync([userId], cancellationToken) is { } account)
        {
            return account;
        }
        account = new PointsAccount { UserId = userId };
        db.Accounts.Add(account);
        return account;
    }

    /// <summary>PostgreSQL: makes sure the account row exists, then locks it until the transaction ends.</summary>
    private async Task<PointsAccount> LockAccountAsync(string userId, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlAsync(
            $"""INSERT INTO "Accounts" ("UserId", "Balance") VALUES ({userId}, 0) ON CONFLICT ("UserId") DO NOTHING""",
            cancellationToken);
        return await db.Accounts.FromSql($"""SELECT * FROM "Accounts" WHERE "UserId" = {userId} FOR UPDATE""")
            .SingleAsync(cancellationToken);
    }

    private Task<LedgerEntry?> FindAsync(string orderId, LedgerEntryKind kind, CancellationToken cancellationToken) =>
        db.Entries.AsNoTracking().SingleOrDefaultAsync(e => e.OrderId == orderId && e.Kind == kind, cancellationToken);

    private void Append(string userId, string orderId, LedgerEntryKind kind, long points, long amount, long balanceAfter) =>
        db.Entries.Add(new LedgerEntry
        {
            UserId = userId,
            OrderId = orderId,
            Kind = kind,
            Points = points,
            Amount = amount,
            BalanceAfter = balanceAfter,
            CreatedAt = timeProvider.GetUtcNow(),
        });

    private static LedgerChange Repeat(LedgerEntry accrual, string userId, long amount) =>
        accrual.UserId == userId && accrual.Amount == amount
            ? new LedgerChange(LedgerOutcome.Replayed, accrual.Points, accrual.BalanceAfter)
            : new LedgerChange(LedgerOutcome.Conflict, accrual.Points, accrual.BalanceAfter);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Accrued {Points} points for order {OrderId} to user {UserId}; balance {Balance}")]
        public static partial void Accrued(ILogger logger, long points, string orderId, string userId, long balance);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Reverted {Points} points of order {OrderId} from user {UserId}; balance {Balance}")]
        public static partial void Reverted(ILogger logger, long points, string orderId, string userId, long balance);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Reverted order {OrderId} before it earned any points; a later accrual of it will be refused")]
        public static partial void Tombstoned(ILogger logger, string orderId);
    }
}

/// <summary>A write saw another transaction's half-visible work and must start again (see <c>PointsLedger.RetryOnConflictAsync</c>).</summary>
internal sealed class LedgerConflictException() : Exception("A concurrent ledger write was seen mid-way; trying again.");

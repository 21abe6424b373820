using Microsoft.EntityFrameworkCore;
using Portico.Data;
using Portico.Loyalty.Infrastructure;

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

    /// <summary>Revert of an order that was never accrued.</summary>
    NotFound,

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
/// (order, kind) keeps a second accrual or reversal of an order out whatever the timing.
/// </summary>
public sealed partial class PointsLedger(LoyaltyDbContext db, SqliteWriteGate gate, TimeProvider timeProvider, ILogger<PointsLedger> logger)
{
    public async Task<LedgerChange> AccrueAsync(string userId, string orderId, long amount, CancellationToken cancellationToken)
    {
        try
        {
            return await WriteAsync(userId, async account =>
            {
                if (await FindAsync(orderId, LedgerEntryKind.Accrual, cancellationToken) is { } existing)
                {
                    return Repeat(existing, userId, amount);
                }
                var points = LedgerRules.PointsFor(amount);
                account.Balance = checked(account.Balance + points);
                Append(userId, orderId, LedgerEntryKind.Accrual, points, amount, account.Balance);
                Log.Accrued(logger, points, orderId, userId, account.Balance);
                return new LedgerChange(LedgerOutcome.Written, points, account.Balance);
            }, cancellationToken);
        }
        catch (DbUpdateException e) when (ServiceDatabase.IsUniqueViolation(e))
        {
            // Written meanwhile by a writer that did not wait for us: another instance, or (PostgreSQL) a
            // request naming another user, which locked another account row.
            db.ChangeTracker.Clear();
            var existing = await FindAsync(orderId, LedgerEntryKind.Accrual, cancellationToken) ?? throw new InvalidOperationException("Unique violation without a conflicting accrual.", e);
            return Repeat(existing, userId, amount);
        }
    }

    public async Task<LedgerChange> RevertAsync(string orderId, CancellationToken cancellationToken)
    {
        // Entries never change, so the accrual read here is still true once the account is locked.
        if (await FindAsync(orderId, LedgerEntryKind.Accrual, cancellationToken) is not { } accrual)
        {
            return new LedgerChange(LedgerOutcome.NotFound, 0, 0);
        }

        try
        {
            return await WriteAsync(accrual.UserId, async account =>
            {
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
                Log.Reverted(logger, accrual.Points, orderId, accrual.UserId, account.Balance);
                return new LedgerChange(LedgerOutcome.Written, accrual.Points, account.Balance);
            }, cancellationToken);
        }
        catch (DbUpdateException e) when (ServiceDatabase.IsUniqueViolation(e))
        {
            db.ChangeTracker.Clear();
            var reversal = await FindAsync(orderId, LedgerEntryKind.Reversal, cancellationToken) ?? throw new InvalidOperationException("Unique violation without a conflicting reversal.", e);
            return new LedgerChange(LedgerOutcome.Replayed, -reversal.Points, reversal.BalanceAfter);
        }
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

    /// <summary>
    /// Runs <paramref name="change"/> with the user's account locked, inside one transaction that is committed
    /// only when the change wrote an entry.
    /// </summary>
    private async Task<LedgerChange> WriteAsync(string userId, Func<PointsAccount, Task<LedgerChange>> change, CancellationToken cancellationToken)
    {
        var isSqlite = db.Database.IsSqlite();
        using var lease = await gate.EnterAsync(isSqlite, cancellationToken);
        // On SQLite this is BEGIN IMMEDIATE: the file's write lock is taken before anything is read.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var account = isSqlite ? await FindOrAddAccountAsync(userId, cancellationToken) : await LockAccountAsync(userId, cancellationToken);
        var result = await change(account);
        if (result.Outcome == LedgerOutcome.Written)
        {
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        db.ChangeTracker.Clear();
        return result;
    }

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
    }
}

using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portico.Loyalty.Infrastructure;
using Portico.Loyalty.Ledger;

namespace Portico.Loyalty.Reconciliation;

/// <summary>What one pass of the reconciler looked at and repaired.</summary>
public sealed record ReconcileReport(int OrdersChecked, int EntriesChecked, int Accrued, int Reverted, int Failed, bool Complete, string? Error);

/// <summary>
/// Finds orders and ledger entries that disagree and repairs them through the ledger's own idempotent operations:
/// an order still Placed past the grace period with no points (and not reverted) is accrued; points of an order that
/// is cancelled, or that Ordering does not know, are reverted. Each repair is logged and counted in
/// <c>portico.loyalty.reconcile.repairs</c> (tag <c>kind</c>: <c>accrue</c> or <c>revert</c>). A scheduled pass reads only
/// what changed since the last complete one (watermarks in <see cref="ReconcilerState"/>, looked at again with
/// <see cref="ReconcilerOptions.Overlap"/>); a full pass reads everything. One pass runs at a time per process; passes
/// of two instances may overlap, which the operations' idempotence makes harmless.
/// </summary>
public sealed partial class Reconciler(
    IServiceScopeFactory scopeFactory, IOptions<ReconcilerOptions> options, TimeProvider timeProvider, IMeterFactory meterFactory, ILogger<Reconciler> logger) : IDisposable
{
    public const string MeterName = "Portico.Loyalty";
    public const string RepairsInstrument = "portico.loyalty.reconcile.repairs";

    private const string OrdersWatermark = "orders.changed-since";
    private const string EntriesWatermark = "entries.after-id";
    private const int EntryBatch = 100;

    private readonly SemaphoreSlim _running = new(1, 1);
    private readonly Counter<long> _repairs = meterFactory.Create(MeterName).CreateCounter<long>(RepairsInstrument, description: "Disagreements between orders and the points ledger that the reconciler repaired, by kind.");

    public async Task<ReconcileReport> RunAsync(bool full, CancellationToken cancellationToken)
    {
        await _running.WaitAsync(cancellationToken);
        try
        {
            var pass = new Pass();
            try
            {
                await using var scope = scopeFactory.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<LoyaltyDbContext>();
                var ordering = scope.ServiceProvider.GetRequiredService<OrderingClient>();
                var cutoff = timeProvider.GetUtcNow() - options.Value.GracePeriod;
                await ReconcileOrdersAsync(scope.ServiceProvider, db, ordering, pass, cutoff, full, cancellationToken);
                await ReconcileEntriesAsync(scope.ServiceProvider, db, ordering, pass, cutoff, full, cancellationToken);
                Log.Finished(logger, pass.Orders, pass.Entries, pass.Accrued, pass.Reverted, pass.Failed);
                return pass.Report(complete: true, error: null);
            }
            catch (OrderingUnavailableException e)
            {
                Log.OrderingUnavailable(logger, e);
                return pass.Report(complete: false, error: e.Message);
            }
        }
        finally
        {
            _running.Release();
        }
    }

    /// <summary>Orders changed since the watermark: placed ones past the grace period need points, cancelled ones none.</summary>
    private async Task ReconcileOrdersAsync(IServiceProvider services, LoyaltyDbContext db, OrderingClient ordering, Pass pass, DateTimeOffset cutoff, bool full, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var watermark = full ? 0 : await ReadAsync(db, OrdersWatermark, cancellationToken);
        var since = watermark == 0 ? DateTimeOffset.MinValue : new DateTimeOffset(Math.Max(0, watermark - o.Overlap.Ticks), TimeSpan.Zero);
        string? pageToken = null;
        do
        {
            var page = await ordering.ListChangedAsync(since, o.PageSize, pageToken, cancellationToken);
            var ids = page.Items.Select(i => i.Id.ToString()).ToList();
            var accrued = (await db.Entries.AsNoTracking().Where(e => ids.Contains(e.OrderId) && e.Kind == LedgerEntryKind.Accrual).Select(e => e.OrderId).ToListAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
            var reverted = (await db.Orders.AsNoTracking().Where(r => ids.Contains(r.OrderId) && r.Reverted).Select(r => r.OrderId).ToListAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
            foreach (var order in page.Items)
            {
                pass.Orders++;
                var id = order.Id.ToString();
                if (reverted.Contains(id))
                {
                    if (order.IsPlaced && order.CreatedAt <= cutoff)
                    {
                        // Loyalty reverted an order Ordering still has as placed (a compensation whose cancel has not landed):
                        // not Loyalty's to repair, since accruing would undo a decision made on purpose.
                        Log.PlacedButReverted(logger, id);
                    }
                    continue;
                }
                if (order.IsCancelled && accrued.Contains(id))
                {
                    await RepairAsync(services, pass, "revert", id, "the order is cancelled", ledger => ledger.RevertAsync(id, cancellationToken));
                }
                else if (order.IsPlaced && !accrued.Contains(id) && order.CreatedAt <= cutoff)
                {
                    await RepairAsync(services, pass, "accrue", id, "the order is placed and earned no points", ledger => ledger.AccrueAsync(order.UserId, id, order.Total, cancellationToken));
                }
            }
            pageToken = page.NextPageToken;
        }
        while (pageToken is not null);

        // Everything changed up to the cutoff was settled by this pass; later changes are read again next time.
        if (cutoff.UtcTicks > watermark)
        {
            await WriteAsync(db, OrdersWatermark, cutoff.UtcTicks, cancellationToken);
        }
    }

    /// <summary>Accruals past the grace period not reverted: their order must exist and not be cancelled.</summary>
    private async Task ReconcileEntriesAsync(IServiceProvider services, LoyaltyDbContext db, OrderingClient ordering, Pass pass, DateTimeOffset cutoff, bool full, CancellationToken cancellationToken)
    {
        var afterId = full ? 0 : await ReadAsync(db, EntriesWatermark, cancellationToken);
        var start = afterId;
        while (true)
        {
            var batch = await db.Entries.AsNoTracking().Where(e => e.Kind == LedgerEntryKind.Accrual && e.Id > afterId)
                .OrderBy(e => e.Id).Take(EntryBatch).ToListAsync(cancellationToken);
            // Ids grow with time: the first accrual inside the grace period ends this pass.
            var settled = batch.TakeWhile(e => e.CreatedAt <= cutoff).ToList();
            if (settled.Count == 0)
            {
                break;
            }
            var ids = settled.Select(e => e.OrderId).ToList();
            var reverted = (await db.Orders.AsNoTracking().Where(r => ids.Contains(r.OrderId) && r.Reverted).Select(r => r.OrderId).ToListAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
            var open = settled.Where(e => !reverted.Contains(e.OrderId)).ToList();
            var guids = open.Select(e => Guid.TryParse(e.OrderId, out var g) ? g : (Guid?)null).OfType<Guid>().Distinct().ToList();
            var known = (await ordering.GetAsync(guids, cancellationToken)).ToDictionary(o => o.Id.ToString(), StringComparer.OrdinalIgnoreCase);
            foreach (var entry in open)
            {
                var orderId = entry.OrderId;
                if (!known.TryGetValue(orderId, out var order))
                {
                    await RepairAsync(services, pass, "revert", orderId, "Ordering has no such order", ledger => ledger.RevertAsync(orderId, cancellationToken));
                }
                else if (order.IsCancelled)
                {
                    await RepairAsync(services, pass, "revert", orderId, "the order is cancelled", ledger => ledger.RevertAsync(orderId, cancellationToken));
                }
            }
            pass.Entries += settled.Count;
            afterId = settled[^1].Id;
            if (settled.Count < batch.Count || batch.Count < EntryBatch)
            {
                break;
            }
        }
        if (afterId > start)
        {
            await WriteAsync(db, EntriesWatermark, afterId, cancellationToken);
        }
    }

    private async Task RepairAsync(IServiceProvider services, Pass pass, string kind, string orderId, string reason, Func<PointsLedger, Task<LedgerChange>> operation)
    {
        try
        {
            // Its own ledger (and context) per repair: the ledger clears what it tracked, and a failure stays with this order.
            await using var scope = services.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
            var change = await operation(scope.ServiceProvider.GetRequiredService<PointsLedger>());
            if (change.Outcome is LedgerOutcome.Written)
            {
                _repairs.Add(1, new KeyValuePair<string, object?>("kind", kind));
                if (kind == "accrue")
                {
                    pass.Accrued++;
                }
                else
                {
                    pass.Reverted++;
                }
                Log.Repaired(logger, kind, orderId, reason, change.Points);
            }
            else
            {
                Log.NothingToRepair(logger, kind, orderId, change.Outcome);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            pass.Failed++;
            Log.RepairFailed(logger, e, kind, orderId);
        }
    }

    private static async Task<long> ReadAsync(LoyaltyDbContext db, string name, CancellationToken cancellationToken) =>
        await db.ReconcilerStates.AsNoTracking().Where(s => s.Name == name).Select(s => (long?)s.Value).SingleOrDefaultAsync(cancellationToken) ?? 0;

    private static async Task WriteAsync(LoyaltyDbContext db, string name, long value, CancellationToken cancellationToken)
    {
        var state = await db.ReconcilerStates.FindAsync([name], cancellationToken);
        if (state is null)
        {
            db.ReconcilerStates.Add(new ReconcilerState { Name = name, Value = value });
        }
        else
        {
            state.Value = value;
        }
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another instance moved it meanwhile: either value is safe, the next pass only looks again.
        }
        db.ChangeTracker.Clear();
    }

    public void Dispose() => _running.Dispose();

    private sealed class Pass
    {
        public int Orders;
        public int Entries;
        public int Accrued;
        public int Reverted;
        public int Failed;

        public ReconcileReport Report(bool complete, string? error) => new(Orders, Entries, Accrued, Reverted, Failed, complete, error);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Reconciler repair ({Kind}) of order {OrderId}: {Reason}; {Points} points")]
        public static partial void Repaired(ILogger logger, string kind, string orderId, string reason, long points);

        [LoggerMessage(2, LogLevel.Information, "Reconciler: {Kind} of order {OrderId} changed nothing ({Outcome})")]
        public static partial void NothingToRepair(ILogger logger, string kind, string orderId, LedgerOutcome outcome);

        [LoggerMessage(3, LogLevel.Error, "Reconciler could not {Kind} order {OrderId}; the next pass tries again")]
        public static partial void RepairFailed(ILogger logger, Exception exception, string kind, string orderId);

        [LoggerMessage(4, LogLevel.Warning, "Reconciler pass stopped: Ordering could not be read; the next pass tries again")]
        public static partial void OrderingUnavailable(ILogger logger, Exception exception);

        [LoggerMessage(5, LogLevel.Information, "Reconciler pass: {Orders} orders and {Entries} accruals checked, {Accrued} accrued, {Reverted} reverted, {Failed} failed")]
        public static partial void Finished(ILogger logger, int orders, int entries, int accrued, int reverted, int failed);

        [LoggerMessage(6, LogLevel.Warning, "Order {OrderId} is placed in Ordering but reverted in Loyalty; left as it is (needs a look)")]
        public static partial void PlacedButReverted(ILogger logger, string orderId);
    }
}

/// <summary>Runs <see cref="Reconciler"/> every <see cref="ReconcilerOptions.Interval"/> on the service's <see cref="TimeProvider"/>.</summary>
internal sealed partial class ReconcilerService(Reconciler reconciler, IOptions<ReconcilerOptions> options, TimeProvider timeProvider, ILogger<ReconcilerService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        if (!o.Enabled || string.IsNullOrEmpty(o.ClientSecret))
        {
            Log.Off(logger, ReconcilerOptions.SectionName);
            return;
        }
        using var timer = new PeriodicTimer(o.Interval, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await reconciler.RunAsync(full: false, stoppingToken);
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    Log.PassFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "The scheduled reconciler is off ({Section}:Enabled is false or ClientSecret is not set)")]
        public static partial void Off(ILogger logger, string section);

        [LoggerMessage(2, LogLevel.Error, "A scheduled reconciler pass failed; the next one tries again")]
        public static partial void PassFailed(ILogger logger, Exception exception);
    }
}

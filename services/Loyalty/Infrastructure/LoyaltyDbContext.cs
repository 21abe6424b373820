using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Portico.Loyalty.Ledger;
using Portico.Loyalty.Reconciliation;
using Portico.Messaging.Inbox;

namespace Portico.Loyalty.Infrastructure;

/// <summary>
/// The Loyalty service's own database: SQLite by default, PostgreSQL when <c>ConnectionStrings:loyaltydb</c>
/// names a host. The model is the same on both.
/// </summary>
public sealed class LoyaltyDbContext(DbContextOptions<LoyaltyDbContext> options) : DbContext(options)
{
    public DbSet<LedgerEntry> Entries => Set<LedgerEntry>();

    public DbSet<PointsAccount> Accounts => Set<PointsAccount>();

    public DbSet<LedgerOrder> Orders => Set<LedgerOrder>();

    public DbSet<ReconcilerState> ReconcilerStates => Set<ReconcilerState>();

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        EnsureLedgerIsOnlyAppended();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        EnsureLedgerIsOnlyAppended();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite has no date-time type that keeps order; store instants as sortable integers there.
        if (Database.IsSqlite())
        {
            configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
        }
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var entry = modelBuilder.Entity<LedgerEntry>();
        entry.ToTable("LedgerEntries");
        entry.Property(e => e.UserId).HasMaxLength(LedgerRules.MaxIdLength);
        entry.Property(e => e.OrderId).HasMaxLength(LedgerRules.MaxIdLength);
        // One accrual and at most one reversal per order, whichever instance or user writes it.
        entry.HasIndex(e => new { e.OrderId, e.Kind }).IsUnique();
        entry.HasIndex(e => new { e.UserId, e.Id });

        var account = modelBuilder.Entity<PointsAccount>();
        account.ToTable("Accounts", t => t.HasCheckConstraint("CK_Accounts_Balance", "\"Balance\" >= 0"));
        account.HasKey(a => a.UserId);
        account.Property(a => a.UserId).HasMaxLength(LedgerRules.MaxIdLength);

        var order = modelBuilder.Entity<LedgerOrder>();
        order.ToTable("LedgerOrders");
        order.HasKey(o => o.OrderId);
        order.Property(o => o.OrderId).HasMaxLength(LedgerRules.MaxIdLength);

        var reconciler = modelBuilder.Entity<ReconcilerState>();
        reconciler.ToTable("ReconcilerState");
        reconciler.HasKey(r => r.Name);
        reconciler.Property(r => r.Name).HasMaxLength(100);

        // OrderCancelled.v1 from Ordering: applied once (inbox), in each order's event order (aggregate sequences).
        modelBuilder.AddInbox();
        modelBuilder.AddAggregateSequences();
    }

    private void EnsureLedgerIsOnlyAppended()
    {
        foreach (var tracked in ChangeTracker.Entries<LedgerEntry>())
        {
            if (tracked.State is EntityState.Modified or EntityState.Deleted)
            {
                throw new InvalidOperationException("The points ledger is append-only: entries are never changed or removed.");
            }
        }
    }
}

using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Portico.Messaging.Inbox;
using Portico.Messaging.Outbox;
using Portico.Ordering.Model;

namespace Portico.Ordering.Infrastructure;

/// <summary>
/// The Ordering service's own database: SQLite by default, PostgreSQL when <c>ConnectionStrings:orderingdb</c>
/// names a host. The model is the same on both.
/// </summary>
public sealed class OrderingDbContext(DbContextOptions<OrderingDbContext> options) : DbContext(options)
{
    public const int MaxUserIdLength = 128;

    public DbSet<Order> Orders => Set<Order>();

    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();

    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();

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
        var order = modelBuilder.Entity<Order>();
        order.ToTable("Orders");
        order.Property(o => o.UserId).HasMaxLength(MaxUserIdLength);
        order.Property(o => o.Status).HasConversion<string>().HasMaxLength(16);
        order.Property(o => o.CancellationReason).HasMaxLength(CancellationReasons.MaxLength);
        order.HasIndex(o => new { o.UserId, o.CreatedAt });
        order.HasIndex(o => new { o.ChangedAt, o.Id });
        order.HasMany(o => o.Lines).WithOne().HasForeignKey(l => l.OrderId).OnDelete(DeleteBehavior.Cascade);

        var line = modelBuilder.Entity<OrderLine>();
        line.ToTable("OrderLines");
        line.HasKey(l => new { l.OrderId, l.Position });
        line.HasIndex(l => new { l.OrderId, l.ProductId }).IsUnique();
        line.Property(l => l.ProductName).HasMaxLength(200);

        var idempotency = modelBuilder.Entity<IdempotencyRecord>();
        idempotency.ToTable("IdempotencyKeys");
        // The key: two requests with one key of one user cannot both be stored, whatever their timing.
        idempotency.HasKey(r => new { r.UserId, r.Key });
        idempotency.Property(r => r.UserId).HasMaxLength(MaxUserIdLength);
        idempotency.Property(r => r.Key).HasMaxLength(Apis.IdempotencyKey.MaxLength);
        idempotency.Property(r => r.RequestHash).HasMaxLength(64);

        // The outbox of Portico.Messaging: its relay publishes these rows (see OrderingServiceCollectionExtensions).
        modelBuilder.AddOutbox("Outbox");
        // The inbox: StockRejected.v1 cancels an order once however often it is delivered (Orders/StockRejectedIntegrationEventHandler).
        modelBuilder.AddInbox();
    }
}

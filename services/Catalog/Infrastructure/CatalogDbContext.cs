using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Portico.Catalog.Model;
using Portico.Messaging.Inbox;
using Portico.Messaging.Outbox;

namespace Portico.Catalog.Infrastructure;

/// <summary>
/// The catalog's own database: SQLite by default, PostgreSQL when <c>ConnectionStrings:catalogdb</c> names a host.
/// Products with their stock, the per-order stock reservations, and the outbox and inbox of Portico.Messaging.
/// </summary>
public sealed class CatalogDbContext(DbContextOptions<CatalogDbContext> options) : DbContext(options)
{
    public DbSet<Product> Products => Set<Product>();

    public DbSet<StockReservation> StockReservations => Set<StockReservation>();

    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite has no date-time type that keeps order; store instants as sortable integers there (the relay compares them).
        if (Database.IsSqlite())
        {
            configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
        }
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var product = modelBuilder.Entity<Product>();
        product.ToTable("Products");
        product.Property(p => p.Name).HasMaxLength(ProductLimits.MaxNameLength);
        product.Property(p => p.NameKo).HasMaxLength(ProductLimits.MaxNameLength);
        product.Property(p => p.Description).HasMaxLength(ProductLimits.MaxDescriptionLength);
        // A second copy of the seed cannot slip in, whatever the start-up order of instances.
        product.HasIndex(p => p.Name).IsUnique();
        product.HasIndex(p => p.Featured);
        // An admin's update applies only to the row as it was read (stock moves with orders meanwhile); see ProductWrites.
        product.Property(p => p.Name).IsConcurrencyToken();
        product.Property(p => p.NameKo).IsConcurrencyToken();
        product.Property(p => p.Description).IsConcurrencyToken();
        product.Property(p => p.Price).IsConcurrencyToken();
        product.Property(p => p.Stock).IsConcurrencyToken();
        product.Property(p => p.Featured).IsConcurrencyToken();

        var reservation = modelBuilder.Entity<StockReservation>();
        reservation.ToTable("StockReservations");
        // The key: two handlers of one order (a duplicate, or a placement racing its cancel) cannot both record it.
        reservation.HasKey(r => r.OrderId);
        reservation.Property(r => r.Status).HasConversion<string>().HasMaxLength(32);
        reservation.HasMany(r => r.Lines).WithOne().HasForeignKey(l => l.OrderId).OnDelete(DeleteBehavior.Cascade);

        var line = modelBuilder.Entity<StockReservationLine>();
        line.ToTable("StockReservationLines");
        line.HasKey(l => new { l.OrderId, l.ProductId });

        modelBuilder.AddOutbox("Outbox");
        modelBuilder.AddInbox();
    }
}

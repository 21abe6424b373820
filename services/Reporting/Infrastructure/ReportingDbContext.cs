using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Portico.Messaging.Inbox;
using Portico.Reporting.Model;

namespace Portico.Reporting.Infrastructure;

/// <summary>
/// Reporting's own database: the sales read model, the inbox of the events it was built from, and the jobs it
/// computed. SQLite by default, PostgreSQL when <c>ConnectionStrings:reportingdb</c> names a host.
/// </summary>
public sealed class ReportingDbContext(DbContextOptions<ReportingDbContext> options) : DbContext(options)
{
    public const int MaxUserIdLength = 128;

    public DbSet<SaleOrder> Orders => Set<SaleOrder>();

    public DbSet<SaleLine> Lines => Set<SaleLine>();

    public DbSet<JobRun> JobRuns => Set<JobRun>();

    public DbSet<JobClaim> JobClaims => Set<JobClaim>();

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
        var order = modelBuilder.Entity<SaleOrder>();
        order.ToTable("SaleOrders");
        order.HasKey(o => o.OrderId);
        order.Property(o => o.OrderId).ValueGeneratedNever();
        order.Property(o => o.UserId).HasMaxLength(MaxUserIdLength);
        order.HasIndex(o => o.Day);
        order.HasIndex(o => new { o.UserId, o.Day });
        order.HasMany(o => o.Lines).WithOne(l => l.Order).HasForeignKey(l => l.OrderId).OnDelete(DeleteBehavior.Cascade);

        var line = modelBuilder.Entity<SaleLine>();
        line.ToTable("SaleLines");
        line.HasKey(l => new { l.OrderId, l.Position });
        line.HasIndex(l => l.ProductId);

        var run = modelBuilder.Entity<JobRun>();
        run.ToTable("JobRuns");
        run.HasKey(r => r.JobId);
        run.Property(r => r.JobId).ValueGeneratedNever();
        run.Property(r => r.Queue).HasMaxLength(200);
        run.Property(r => r.Worker).HasMaxLength(200);

        var claim = modelBuilder.Entity<JobClaim>();
        claim.ToTable("JobClaims");
        claim.HasKey(c => c.JobId);
        claim.Property(c => c.JobId).ValueGeneratedNever();
        claim.Property(c => c.Worker).HasMaxLength(200);

        modelBuilder.AddInbox();
    }
}

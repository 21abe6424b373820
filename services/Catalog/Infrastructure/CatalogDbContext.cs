using Microsoft.EntityFrameworkCore;
using Portico.Catalog.Model;

namespace Portico.Catalog.Infrastructure;

/// <summary>The catalog's own database: SQLite by default (<c>ConnectionStrings:catalogdb</c>).</summary>
public sealed class CatalogDbContext(DbContextOptions<CatalogDbContext> options) : DbContext(options)
{
    public DbSet<Product> Products => Set<Product>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var product = modelBuilder.Entity<Product>();
        product.ToTable("Products");
        product.Property(p => p.Name).HasMaxLength(200);
        product.Property(p => p.NameKo).HasMaxLength(200);
        product.Property(p => p.Description).HasMaxLength(2000);
        // A second copy of the seed cannot slip in, whatever the start-up order of instances.
        product.HasIndex(p => p.Name).IsUnique();
        product.HasIndex(p => p.Featured);
    }
}

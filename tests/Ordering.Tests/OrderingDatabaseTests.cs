using Microsoft.EntityFrameworkCore;
using Portico.Data;
using Portico.Ordering.Infrastructure;

namespace Portico.Ordering.Tests;

/// <summary>Choosing SQLite or PostgreSQL from configuration; the PostgreSQL model is checked without a server.</summary>
public sealed class OrderingDatabaseTests
{
    [Theory]
    [InlineData("Data Source=ordering.db", false)]
    [InlineData("Data Source=/var/lib/portico/ordering.db;Cache=Shared", false)]
    [InlineData("Host=localhost;Database=ordering;Username=portico;Password=secret", true)]
    [InlineData("Server=db.internal;Port=5432;Database=ordering", true)]
    public void IsPostgres_FollowsTheConnectionString(string connectionString, bool expected)
    {
        Assert.Equal(expected, ServiceDatabase.IsPostgres(connectionString));
    }

    [Fact]
    public void PostgresModel_HasOrdersLinesIdempotencyKeysAndTheOutbox()
    {
        var options = new DbContextOptionsBuilder<OrderingDbContext>().UseNpgsql("Host=localhost;Database=ordering").Options;
        using var db = new OrderingDbContext(options);

        var script = db.Database.GenerateCreateScript();

        foreach (var table in new[] { "Orders", "OrderLines", "IdempotencyKeys", "Outbox" })
        {
            Assert.Contains($"CREATE TABLE \"{table}\"", script, StringComparison.Ordinal);
        }
        Assert.Contains("CONSTRAINT \"PK_IdempotencyKeys\" PRIMARY KEY (\"UserId\", \"Key\")", script, StringComparison.Ordinal);
        Assert.Contains("CREATE UNIQUE INDEX \"IX_OrderLines_OrderId_ProductId\"", script, StringComparison.Ordinal);
        Assert.Contains("\"PublishedAt\" timestamp with time zone", script, StringComparison.Ordinal);
    }
}

using Microsoft.EntityFrameworkCore;
using Portico.Reporting.Infrastructure;
using Portico.Reporting.Model;

namespace Portico.Reporting.Sales;

/// <summary>What a sales report covers: a range of UTC days (both ends included, either open) and, for a purchases report, one customer.</summary>
public sealed record SalesFilter(DateOnly? From, DateOnly? To, string? UserId = null);

public sealed record SalesTotals(int Orders, long Units, long Revenue, int CancelledOrders);

public sealed record DaySales(DateOnly Day, int Orders, long Units, long Revenue);

public sealed record ProductSales(int ProductId, int Orders, long Units, long Revenue);

/// <summary>A sales summary: totals, per day and per product, of the orders placed and not cancelled.</summary>
public sealed record SalesSummary(DateOnly? From, DateOnly? To, SalesTotals Totals, IReadOnlyList<DaySales> Days, IReadOnlyList<ProductSales> Products);

/// <summary>Reads the sales read model; every figure leaves cancelled orders out.</summary>
internal sealed class SalesQueries(ReportingDbContext db)
{
    public async Task<SalesSummary> SummaryAsync(SalesFilter filter, CancellationToken cancellationToken)
    {
        var counted = Orders(filter).Where(o => !o.Cancelled);
        var lines = db.Lines.AsNoTracking().Where(l => counted.Any(o => o.OrderId == l.OrderId));

        var ordersByDay = await counted
            .GroupBy(o => o.Day)
            .Select(g => new { Day = g.Key, Orders = g.Count(), Revenue = g.Sum(o => o.Total) })
            .ToListAsync(cancellationToken);
        var unitsByDay = await lines
            .GroupBy(l => l.Order.Day)
            .Select(g => new { Day = g.Key, Units = g.Sum(l => (long)l.Quantity) })
            .ToDictionaryAsync(x => x.Day!.Value, x => x.Units, cancellationToken);
        var products = await lines
            .GroupBy(l => l.ProductId)
            .Select(g => new
            {
                ProductId = g.Key,
                Orders = g.Select(l => l.OrderId).Distinct().Count(),
                Units = g.Sum(l => (long)l.Quantity),
                Revenue = g.Sum(l => l.Quantity * l.UnitPrice),
            })
            .ToListAsync(cancellationToken);
        var cancelled = await Orders(filter).CountAsync(o => o.Cancelled, cancellationToken);

        var days = ordersByDay
            .Select(d => new DaySales(d.Day!.Value, d.Orders, unitsByDay.GetValueOrDefault(d.Day!.Value), d.Revenue))
            .OrderBy(d => d.Day)
            .ToList();
        var totals = new SalesTotals(days.Sum(d => d.Orders), days.Sum(d => d.Units), days.Sum(d => d.Revenue), cancelled);
        return new SalesSummary(filter.From, filter.To, totals, days,
            [.. products.Select(p => new ProductSales(p.ProductId, p.Orders, p.Units, p.Revenue)).OrderByDescending(p => p.Revenue).ThenBy(p => p.ProductId)]);
    }

    /// <summary>Placed orders in the filter's range (cancelled ones included: callers decide).</summary>
    private IQueryable<SaleOrder> Orders(SalesFilter filter)
    {
        var orders = db.Orders.AsNoTracking().Where(o => o.Placed);
        if (filter.From is { } from)
        {
            orders = orders.Where(o => o.Day >= from);
        }
        if (filter.To is { } to)
        {
            orders = orders.Where(o => o.Day <= to);
        }
        if (filter.UserId is { } user)
        {
            orders = orders.Where(o => o.UserId == user);
        }
        return orders;
    }
}

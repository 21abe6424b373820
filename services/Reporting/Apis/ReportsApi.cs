using System.Globalization;
using Microsoft.Extensions.Options;
using Portico.Reporting.Sales;

namespace Portico.Reporting.Apis;

public static class ReportsApi
{
    /// <summary>Maps <c>GET /api/reports/sales/summary</c> (admin).</summary>
    public static IEndpointRouteBuilder MapReportsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/reports/sales/summary", SummaryAsync)
            .RequireAuthorization(ReportingPolicies.Admin)
            .WithName("GetSalesSummary");
        return endpoints;
    }

    /// <summary>
    /// The shop's sales from <c>from</c> to <c>to</c> (UTC days, both included, <c>yyyy-MM-dd</c>; by default the last
    /// <c>DefaultRangeDays</c> up to today): totals, per day and per product, cancelled orders left out (and counted apart).
    /// A malformed date, a range the wrong way round or one longer than <c>MaxRangeDays</c> is a 400 naming the field.
    /// </summary>
    internal static async Task<IResult> SummaryAsync(
        string? from, string? to, SalesQueries queries, IOptions<ReportingOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var toDate = Parse(nameof(to), to, errors) ?? DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var fromDate = Parse(nameof(from), from, errors) ?? toDate.AddDays(1 - o.DefaultRangeDays);
        if (errors.Count == 0)
        {
            if (toDate < fromDate)
            {
                errors[nameof(to)] = ["'to' must not be before 'from'."];
            }
            else if (toDate.DayNumber - fromDate.DayNumber + 1 > o.MaxRangeDays)
            {
                errors[nameof(to)] = [$"The range may cover at most {o.MaxRangeDays} days."];
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: $"Invalid: {string.Join(", ", errors.Keys)}.", title: "Invalid date range");
        }
        return TypedResults.Ok(await queries.SummaryAsync(new SalesFilter(fromDate, toDate), cancellationToken));
    }

    private static DateOnly? Parse(string name, string? value, Dictionary<string, string[]> errors)
    {
        if (value is null)
        {
            return null;
        }
        if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return date;
        }
        errors[name] = [$"'{name}' must be a date as yyyy-MM-dd."];
        return null;
    }
}

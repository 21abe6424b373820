using System.Globalization;
using System.Text.Json;
using Portico.Contracts.Events;
using Portico.Reporting.Apis;
using Portico.Reporting.Sales;

namespace Portico.Reporting.Jobs;

/// <summary>
/// A report Reporting builds as an async job, consumed from <c>{Queue}.in</c>. Reports are strategies chosen by the
/// queue a request arrives on; a new one is registered beside these and its queue listed in the gateway.
/// </summary>
internal interface IJobReport
{
    /// <summary>The job queue, e.g. <c>jobs.sales-report</c>.</summary>
    string Queue { get; }

    /// <summary>
    /// Builds the report for the request. Throws <see cref="JobRequestException"/> when the request itself is wrong
    /// (trying again cannot help); anything else counts as a failed attempt the gateway may retry.
    /// </summary>
    Task<JsonElement> BuildAsync(JobRequested request, CancellationToken cancellationToken);
}

/// <summary>The request cannot be served as it is: the job fails without retry.</summary>
internal sealed class JobRequestException(string message) : Exception(message);

/// <summary>The job queues Reporting serves.</summary>
public static class ReportingJobQueues
{
    public const string SalesReport = "jobs.sales-report";
    public const string PurchasesReport = "jobs.purchases-report";

    public static string In(string queue) => queue + ".in";
}

/// <summary>The whole shop's sales over a date range, by day or by product. Admins only (the gateway checks; so does this).</summary>
internal sealed class SalesJobReport(SalesQueries queries) : IJobReport
{
    public string Queue => ReportingJobQueues.SalesReport;

    public async Task<JsonElement> BuildAsync(JobRequested request, CancellationToken cancellationToken)
    {
        if (!request.Roles.Contains(ReportingRoles.Admin, StringComparer.Ordinal))
        {
            throw new JobRequestException("The sales report is for admins.");
        }
        var from = JobParameters.Date(request.Parameters, "from") ?? throw new JobRequestException("'from' is required.");
        var to = JobParameters.Date(request.Parameters, "to") ?? throw new JobRequestException("'to' is required.");
        if (to < from)
        {
            throw new JobRequestException("'to' must not be before 'from'.");
        }
        var groupBy = JobParameters.String(request.Parameters, "groupBy") ?? "day";
        if (groupBy is not ("day" or "product"))
        {
            throw new JobRequestException("'groupBy' must be day or product.");
        }
        var summary = await queries.SummaryAsync(new SalesFilter(from, to), cancellationToken);
        object rows = groupBy == "day" ? summary.Days : summary.Products;
        return JsonSerializer.SerializeToElement(new { from, to, groupBy, summary.Totals, rows }, ReportJson.Options);
    }
}

/// <summary>A signed-in user's own purchases (all time, or a date range): totals and per product, from the read model filtered by the user.</summary>
internal sealed class PurchasesJobReport(SalesQueries queries) : IJobReport
{
    public string Queue => ReportingJobQueues.PurchasesReport;

    public async Task<JsonElement> BuildAsync(JobRequested request, CancellationToken cancellationToken)
    {
        var from = JobParameters.Date(request.Parameters, "from");
        var to = JobParameters.Date(request.Parameters, "to");
        if (from is not null && to is not null && to < from)
        {
            throw new JobRequestException("'to' must not be before 'from'.");
        }
        var summary = await queries.SummaryAsync(new SalesFilter(from, to, request.UserId), cancellationToken);
        return JsonSerializer.SerializeToElement(new { userId = request.UserId, from, to, summary.Totals, summary.Products }, ReportJson.Options);
    }
}

internal static class JobParameters
{
    public static DateOnly? Date(JsonElement parameters, string name)
    {
        if (String(parameters, name) is not { } text)
        {
            return null;
        }
        return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date
            : throw new JobRequestException($"'{name}' must be a date as yyyy-MM-dd.");
    }

    public static string? String(JsonElement parameters, string name) =>
        parameters.ValueKind == JsonValueKind.Object && parameters.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}

internal static class ReportJson
{
    // Reports are anonymous shapes serialized once per job; reflection is fine here (not a hot path).
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}

using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Portico.Ordering.Infrastructure;
using Portico.Ordering.Model;

namespace Portico.Ordering.Apis;

/// <summary>An order as a service client sees it: whose it is, its status, total and when it last changed.</summary>
public sealed record ServiceOrder(Guid Id, string UserId, string Status, long Total, DateTimeOffset CreatedAt, DateTimeOffset ChangedAt);

/// <summary>A page of orders; <see cref="NextPageToken"/> continues after the last one, null on the last page.</summary>
public sealed record ServiceOrderPage(IReadOnlyList<ServiceOrder> Items, string? NextPageToken);

/// <summary>
/// Orders of every user, for services (Loyalty's reconciler): not under <c>/api/orders</c>, so the gateway's route does
/// not expose it, and only for a token with the <c>service</c> role (<see cref="OrderingPolicies.Service"/>).
/// </summary>
public static class ServiceOrdersApi
{
    public const int DefaultPageSize = 100;
    public const int MaxPageSize = 500;
    public const int MaxIds = 100;

    /// <summary>
    /// Maps <c>GET /internal/orders</c>: either <c>?changedSince=&amp;pageSize=&amp;pageToken=</c>, the orders whose last
    /// change is after a time, oldest change first, in pages; or <c>?id=…&amp;id=…</c>, those of the given ids that exist.
    /// </summary>
    public static IEndpointRouteBuilder MapServiceOrdersApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/internal/orders", ListAsync).WithTags("Ordering (services)").WithName("ListOrdersForServices")
            .RequireAuthorization(OrderingPolicies.Service);
        return app;
    }

    internal static async Task<Results<Ok<ServiceOrderPage>, ValidationProblem>> ListAsync(
        OrderingDbContext db,
        [FromQuery] string? changedSince,
        [FromQuery] string? pageSize,
        [FromQuery] string? pageToken,
        [FromQuery(Name = "id")] string[]? ids,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (ids is { Length: > 0 })
        {
            return await ByIdsAsync(db, ids, changedSince ?? pageSize ?? pageToken, errors, cancellationToken);
        }

        var since = DateTimeOffset.MinValue;
        if (!string.IsNullOrWhiteSpace(changedSince)
            && !DateTimeOffset.TryParse(changedSince, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out since))
        {
            errors[nameof(changedSince)] = ["changedSince must be an ISO 8601 time, e.g. 2025-01-31T09:00:00Z."];
        }
        var size = DefaultPageSize;
        if (!string.IsNullOrWhiteSpace(pageSize)
            && (!int.TryParse(pageSize, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size is < 1 or > MaxPageSize))
        {
            errors[nameof(pageSize)] = [$"pageSize must be a whole number from 1 to {MaxPageSize}."];
        }
        (DateTimeOffset ChangedAt, Guid Id)? after = null;
        if (!string.IsNullOrEmpty(pageToken))
        {
            if (TryReadToken(pageToken, out var position))
            {
                after = position;
            }
            else
            {
                errors[nameof(pageToken)] = ["pageToken is not a nextPageToken this endpoint gave."];
            }
        }
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }

        since = since.ToUniversalTime();
        var query = db.Orders.AsNoTracking().Where(o => o.ChangedAt > since);
        if (after is { } position2)
        {
            var (changedAt, id) = position2;
            query = query.Where(o => o.ChangedAt > changedAt || (o.ChangedAt == changedAt && o.Id.CompareTo(id) > 0));
        }
        var orders = await query.OrderBy(o => o.ChangedAt).ThenBy(o => o.Id).Take(size + 1).ToListAsync(cancellationToken);
        string? next = null;
        if (orders.Count > size)
        {
            orders.RemoveAt(size);
            next = CreateToken(orders[^1].ChangedAt, orders[^1].Id);
        }
        return TypedResults.Ok(new ServiceOrderPage([.. orders.Select(From)], next));
    }

    private static async Task<Results<Ok<ServiceOrderPage>, ValidationProblem>> ByIdsAsync(
        OrderingDbContext db, string[] ids, string? pagingParameter, Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        if (pagingParameter is not null)
        {
            errors["id"] = ["id lists given orders; it cannot be combined with changedSince, pageSize or pageToken."];
        }
        if (ids.Length > MaxIds)
        {
            errors["id"] = [$"At most {MaxIds} ids at once, not {ids.Length}."];
        }
        var parsed = new List<Guid>();
        foreach (var (value, index) in ids.Select((v, i) => (v, i)))
        {
            if (Guid.TryParse(value, out var id))
            {
                parsed.Add(id);
            }
            else
            {
                errors[$"id[{index}]"] = ["An order id is a GUID."];
            }
        }
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        var orders = await db.Orders.AsNoTracking().Where(o => parsed.Contains(o.Id)).ToListAsync(cancellationToken);
        return TypedResults.Ok(new ServiceOrderPage([.. orders.Select(From)], null));
    }

    private static ServiceOrder From(Order o) => new(o.Id, o.UserId, o.Status.ToString(), o.Total, o.CreatedAt, o.ChangedAt);

    private static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, detail: $"Invalid query parameter(s): {string.Join(", ", errors.Keys)}.", title: "Invalid query parameters");

    private static string CreateToken(DateTimeOffset changedAt, Guid id) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{changedAt.UtcTicks}:{id:N}")));

    private static bool TryReadToken(string token, out (DateTimeOffset ChangedAt, Guid Id) position)
    {
        position = default;
        if (token.Length > 128)
        {
            return false;
        }
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0
                && long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks <= DateTimeOffset.MaxValue.UtcTicks
                && Guid.TryParseExact(text.AsSpan(colon + 1), "N", out var id))
            {
                position = (new DateTimeOffset(ticks, TimeSpan.Zero), id);
                return true;
            }
            return false;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Portico.Contracts.Tests.Events;

/// <summary>
/// The event comparer over schemas exported from records declared here, as an event would change from one commit to the
/// next: additions of optional fields pass, every kind of break is named.
/// </summary>
public sealed class EventSchemaCompatibilityTests
{
    public sealed record Line(int ProductId, int Quantity, long UnitPrice);

    public sealed record Baseline(Guid OrderId, string UserId, long Total, IReadOnlyList<Line> Items, DateTimeOffset PlacedAt, string? Note = null);

    public sealed record LineWithSku(int ProductId, int Quantity, long UnitPrice, string? Sku = null);

    public sealed record AddedOptional(Guid OrderId, string UserId, long Total, IReadOnlyList<LineWithSku> Items, DateTimeOffset PlacedAt, string? Note = null,
        string? Coupon = null, int Channel = 0);

    public sealed record NoteRemoved(Guid OrderId, string UserId, long Total, IReadOnlyList<Line> Items, DateTimeOffset PlacedAt);

    public sealed record TotalRemoved(Guid OrderId, string UserId, IReadOnlyList<Line> Items, DateTimeOffset PlacedAt, string? Note = null);

    public sealed record TotalRetyped(Guid OrderId, string UserId, string Total, IReadOnlyList<Line> Items, DateTimeOffset PlacedAt, string? Note = null);

    public sealed record UserIdNullable(Guid OrderId, string? UserId, long Total, IReadOnlyList<Line> Items, DateTimeOffset PlacedAt, string? Note = null);

    public sealed record OrderIdRetyped(string OrderId, string UserId, long Total, IReadOnlyList<Line> Items, DateTimeOffset PlacedAt, string? Note = null);

    public sealed record LineRetyped(int ProductId, int Quantity, decimal UnitPrice);

    public sealed record NestedRetyped(Guid OrderId, string UserId, long Total, IReadOnlyList<LineRetyped> Items, DateTimeOffset PlacedAt, string? Note = null);

    public sealed record TotalOptional(Guid OrderId, string UserId, IReadOnlyList<Line> Items, DateTimeOffset PlacedAt, string? Note = null, long Total = 0);

    public sealed record NewRequired(Guid OrderId, string UserId, long Total, IReadOnlyList<Line> Items, string Currency, DateTimeOffset PlacedAt, string? Note = null);

    private static JsonObject Schema<T>() => EventSchemas.SchemaOf(typeof(T), EventSchemas.ExportOptions(new DefaultJsonTypeInfoResolver()));

    [Fact]
    public void SameSchema_NewOptionalFields_AndRemovedOptionalField_AreCompatible()
    {
        Assert.Empty(EventSchemaCompatibility.BreakingChanges("E", Schema<Baseline>(), Schema<Baseline>()));
        Assert.Empty(EventSchemaCompatibility.BreakingChanges("E", Schema<Baseline>(), Schema<AddedOptional>()));
        Assert.Empty(EventSchemaCompatibility.BreakingChanges("E", Schema<Baseline>(), Schema<NoteRemoved>()));
    }

    [Fact]
    public void Exporter_MarksConstructorParametersWithoutDefaultsRequired_AndNullableAnnotations()
    {
        var schema = Schema<AddedOptional>();
        var required = schema["required"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
        Assert.Contains("orderId", required);
        Assert.DoesNotContain("coupon", required);
        Assert.Equal("string", schema["properties"]!["userId"]!["type"]!.GetValue<string>());
        Assert.Contains("null", schema["properties"]!["note"]!["type"]!.AsArray().Select(v => v!.GetValue<string>()));
    }

    public static TheoryData<string, string> Breaks => new()
    {
        { nameof(TotalRemoved), "E.total was removed; its consumers read it." },
        { nameof(TotalRetyped), "E.total changed type from integer to string." },
        { nameof(UserIdNullable), "E.userId changed type from string to null|string." },
        { nameof(OrderIdRetyped), "E.orderId changed type from string (uuid) to string." },
        { nameof(NestedRetyped), "E.items[].unitPrice changed type from integer to number." },
        { nameof(TotalOptional), "E.total is no longer required; its consumers expect it on every message." },
        { nameof(NewRequired), "E.currency is new and required; messages sent under the baseline lack it." },
    };

    private static readonly Dictionary<string, Func<JsonObject>> Changed = new()
    {
        [nameof(TotalRemoved)] = Schema<TotalRemoved>,
        [nameof(TotalRetyped)] = Schema<TotalRetyped>,
        [nameof(UserIdNullable)] = Schema<UserIdNullable>,
        [nameof(OrderIdRetyped)] = Schema<OrderIdRetyped>,
        [nameof(NestedRetyped)] = Schema<NestedRetyped>,
        [nameof(TotalOptional)] = Schema<TotalOptional>,
        [nameof(NewRequired)] = Schema<NewRequired>,
    };

    [Theory]
    [MemberData(nameof(Breaks))]
    public void BreakingChange_IsReportedNamingTheField(string change, string expected)
    {
        var changes = EventSchemaCompatibility.BreakingChanges("E", Schema<Baseline>(), Changed[change]());
        Assert.Contains(changes, c => c.StartsWith(expected, StringComparison.Ordinal));
    }
}

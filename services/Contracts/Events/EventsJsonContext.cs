using System.Text.Json;
using System.Text.Json.Serialization;

namespace Portico.Contracts.Events;

/// <summary>
/// Source-generated JSON for every event here, camelCase on the wire. Unknown fields are ignored (the default), so a
/// consumer keeps working when a publisher adds one.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(OrderPlaced))]
[JsonSerializable(typeof(OrderCancelled))]
[JsonSerializable(typeof(StockRejected))]
[JsonSerializable(typeof(ProductChanged))]
public sealed partial class EventsJsonContext : JsonSerializerContext;

using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Portico.Contracts.Events;
using Portico.Messaging;

namespace Portico.Contracts.Tests.Events;

/// <summary>
/// The JSON schema of each integration message in <c>Portico.Contracts.Events</c>, exported by System.Text.Json from the
/// same source-generated contracts the services serialize with. The schema states the contract the serializer keeps:
/// a constructor parameter without a default is always sent (required), a non-nullable one is never null.
/// </summary>
public static class EventSchemas
{
    /// <summary>The options a contract's schema is exported with: the wire's (camelCase, Web defaults), with the contract's rules.</summary>
    public static JsonSerializerOptions ExportOptions(IJsonTypeInfoResolver resolver) => new(JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = resolver,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        // Web defaults also read numbers from strings; producers write numbers, and that is the contract.
        NumberHandling = JsonNumberHandling.Strict,
    };

    private static readonly JsonSerializerOptions Wire = ExportOptions(JsonTypeInfoResolver.Combine(EventsJsonContext.Default, JobsJsonContext.Default));

    /// <summary>Every message's wire name (<c>OrderPlaced.v1</c>) and its record type.</summary>
    public static IReadOnlyDictionary<string, Type> Messages() =>
        typeof(OrderPlaced).Assembly.GetTypes()
            .Where(type => type.IsClass && !type.IsAbstract && typeof(IIntegrationMessage).IsAssignableFrom(type))
            .ToDictionary(
                type => (string)type.GetProperty(nameof(IIntegrationMessage.MessageType), BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!,
                type => type,
                StringComparer.Ordinal);

    public static JsonObject SchemaOf(Type type) => SchemaOf(type, Wire);

    public static JsonObject SchemaOf(Type type, JsonSerializerOptions options) =>
        JsonSchemaExporter.GetJsonSchemaAsNode(options, type, new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true }).AsObject();
}

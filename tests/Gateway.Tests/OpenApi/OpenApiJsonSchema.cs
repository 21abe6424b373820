using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Portico.Tests.OpenApi;

/// <summary>
/// Validates JSON against a schema of an OpenAPI 3.1 document (JSON Schema 2020-12) with JsonSchema.Net: the schema with
/// the document's components as its <c>$defs</c>, so each <c>#/components/schemas/…</c> reference resolves. Shared by the
/// gateway's OpenAPI tests and the system tests' request conformance check (linked into both projects).
/// </summary>
internal sealed class OpenApiJsonSchema(JsonObject document)
{
    private const string Components = "\"#/components/schemas/";

    private readonly ConcurrentDictionary<string, JsonSchema> _built = new(StringComparer.Ordinal);

    /// <summary>What is wrong with <paramref name="instance"/> under <paramref name="schema"/>, one line per error; empty when it is valid.</summary>
    public IReadOnlyList<string> Errors(JsonNode schema, JsonElement instance)
    {
        var key = schema.ToJsonString();
        var built = _built.GetOrAdd(key, _ =>
        {
            var defs = document["components"]?["schemas"]?.DeepClone() as JsonObject ?? [];
            defs["portico-instance"] = schema.DeepClone();
            var root = new JsonObject
            {
                ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
                ["$ref"] = "#/$defs/portico-instance",
                ["$defs"] = defs,
            };
            return JsonSchema.FromText(root.ToJsonString().Replace(Components, "\"#/$defs/", StringComparison.Ordinal));
        });
        var result = built.Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List });
        return result.IsValid
            ? []
            : [.. (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).DefaultIfEmpty("(invalid)")];
    }

    public IReadOnlyList<string> Errors(JsonNode schema, string json)
    {
        using var parsed = JsonDocument.Parse(json);
        return Errors(schema, parsed.RootElement);
    }
}

using System.Text.Json.Nodes;

namespace Portico.Contracts.Tests.Events;

/// <summary>
/// What in an event's current JSON schema breaks its consumers or the messages already on their way. An event is read
/// by consumers written against the baseline, and by the new consumer from queues, outboxes and dead-letter queues filled
/// under the baseline, so a change must hold both ways: a required field removed, made optional or retyped (its types,
/// nullability, format or values) breaks the first; a new required field breaks the second. A new optional field
/// passes, as does removing an optional one (its consumers already cope without it).
/// </summary>
public static class EventSchemaCompatibility
{
    public static IReadOnlyList<string> BreakingChanges(string name, JsonObject baseline, JsonObject current)
    {
        var changes = new List<string>();
        Compare(name, baseline, baseline, current, current, changes, 0);
        return changes;
    }

    private static void Compare(string at, JsonObject baselineRoot, JsonNode? old, JsonObject currentRoot, JsonNode? now, List<string> changes, int depth)
    {
        old = Resolve(baselineRoot, old);
        now = Resolve(currentRoot, now);
        if (depth > 16)
        {
            return;
        }
        if (Shape(old) != Shape(now))
        {
            changes.Add($"{at} changed type from {Shape(old)} to {Shape(now)}.");
            return;
        }
        if (old is not JsonObject oldSchema || now is not JsonObject newSchema)
        {
            return;
        }

        var oldRequired = Required(oldSchema);
        var newRequired = Required(newSchema);
        var oldProperties = oldSchema["properties"] as JsonObject ?? [];
        var newProperties = newSchema["properties"] as JsonObject ?? [];
        foreach (var (name, property) in oldProperties)
        {
            var field = $"{at}.{name}";
            if (newProperties[name] is not { } next)
            {
                if (oldRequired.Contains(name))
                {
                    changes.Add($"{field} was removed; its consumers read it.");
                }
                continue;
            }
            if (oldRequired.Contains(name) && !newRequired.Contains(name))
            {
                changes.Add($"{field} is no longer required; its consumers expect it on every message.");
            }
            else if (!oldRequired.Contains(name) && newRequired.Contains(name))
            {
                changes.Add($"{field} became required; messages sent under the baseline may lack it.");
            }
            Compare(field, baselineRoot, property, currentRoot, next, changes, depth + 1);
        }
        foreach (var name in newRequired.Except(oldProperties.Select(p => p.Key)))
        {
            changes.Add($"{at}.{name} is new and required; messages sent under the baseline lack it. Give it a default to make it optional.");
        }
        if (oldSchema["items"] is { } items)
        {
            Compare($"{at}[]", baselineRoot, items, currentRoot, newSchema["items"], changes, depth + 1);
        }
    }

    /// <summary>What a value may be: its JSON types, format and allowed values; properties are compared one by one.</summary>
    private static string Shape(JsonNode? schema) => schema switch
    {
        null => "nothing",
        JsonValue value when value.TryGetValue<bool>(out var any) => any ? "any" : "nothing",
        JsonObject o => string.Join(" ", new[]
        {
            o["type"] switch
            {
                JsonArray many => string.Join("|", many.Select(t => t?.GetValue<string>()).Order(StringComparer.Ordinal)),
                JsonValue one => one.GetValue<string>(),
                _ => "any",
            },
            o["format"] is { } format ? $"({format.GetValue<string>()})" : null,
            o["pattern"] is { } pattern ? $"/{pattern.GetValue<string>()}/" : null,
            o["enum"] is JsonArray values ? "[" + string.Join(", ", values.Select(v => v?.ToJsonString() ?? "null")) + "]" : null,
        }.Where(part => part is not null)),
        _ => schema.ToJsonString(),
    };

    private static HashSet<string> Required(JsonObject schema) =>
        (schema["required"] as JsonArray ?? []).Select(v => v?.GetValue<string>()).OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>Follows <c>$ref</c> JSON pointers within the schema (the exporter writes them for types met twice).</summary>
    private static JsonNode? Resolve(JsonObject root, JsonNode? schema)
    {
        for (var hops = 0; hops < 32 && schema is JsonObject o && o["$ref"]?.GetValue<string>() is { } reference && reference.StartsWith('#'); hops++)
        {
            JsonNode? target = root;
            foreach (var part in reference.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                var key = part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                target = target is JsonArray array && int.TryParse(key, out var index) ? array[index] : target?[key];
            }
            schema = target;
        }
        return schema;
    }
}

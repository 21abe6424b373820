using System.Text.Json.Nodes;

namespace Portico.Tests.Common.Contracts;

/// <summary>
/// What in a service's current OpenAPI document breaks a client written against its baseline: a removed operation, a
/// removed or narrowed (new types excluded) response field, a field an answer no longer always carries, a new required
/// request field or parameter, a narrowed request type or enum, a removed success status. Adding operations, optional
/// request fields, response fields and wider request types passes. Written here because no maintained OpenAPI 3.1 diff
/// tool installs from the registries this project uses (oasdiff is a Go binary).
/// </summary>
public static class OpenApiCompatibility
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options"];

    /// <summary>Each breaking change, naming the operation and the field.</summary>
    public static IReadOnlyList<string> BreakingChanges(JsonObject baseline, JsonObject current)
    {
        var changes = new List<string>();
        var before = new Resolver(baseline);
        var after = new Resolver(current);
        foreach (var (path, item) in baseline["paths"] as JsonObject ?? [])
        {
            foreach (var method in Methods)
            {
                if (item?[method] is not JsonObject old)
                {
                    continue;
                }
                var at = $"{method.ToUpperInvariant()} {path}";
                if (current["paths"]?[path]?[method] is not JsonObject now)
                {
                    changes.Add($"{at}: the operation was removed.");
                    continue;
                }
                CompareParameters(at, old, now, changes);
                if (now["requestBody"]?["content"]?["application/json"]?["schema"] is JsonNode newBody)
                {
                    var oldBody = old["requestBody"]?["content"]?["application/json"]?["schema"];
                    CompareSchema($"{at} request body", before, oldBody, after, newBody, Direction.Request, changes, 0);
                }
                foreach (var (status, response) in old["responses"] as JsonObject ?? [])
                {
                    if (!status.StartsWith('2'))
                    {
                        continue;
                    }
                    if (now["responses"]?[status] is not JsonNode newResponse)
                    {
                        changes.Add($"{at}: response {status} was removed.");
                        continue;
                    }
                    if (response?["content"]?["application/json"]?["schema"] is JsonNode oldSchema)
                    {
                        CompareSchema($"{at} response {status}", before, oldSchema, after, newResponse["content"]?["application/json"]?["schema"],
                            Direction.Response, changes, 0);
                    }
                }
            }
        }
        return changes;
    }

    private enum Direction { Request, Response }

    private static void CompareParameters(string at, JsonObject old, JsonObject now, List<string> changes)
    {
        var before = (old["parameters"] as JsonArray ?? []).OfType<JsonObject>().ToDictionary(p => $"{p["in"]}:{p["name"]}");
        foreach (var parameter in (now["parameters"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var key = $"{parameter["in"]}:{parameter["name"]}";
            var required = parameter["required"]?.GetValue<bool>() == true;
            if (!before.TryGetValue(key, out var was))
            {
                if (required)
                {
                    changes.Add($"{at}: new required parameter {key}.");
                }
                continue;
            }
            if (required && was["required"]?.GetValue<bool>() != true)
            {
                changes.Add($"{at}: parameter {key} became required.");
            }
            var lost = Types(was["schema"]).Except(Types(parameter["schema"])).ToList();
            if (Types(parameter["schema"]).Count > 0 && lost.Count > 0)
            {
                changes.Add($"{at}: parameter {key} no longer accepts {string.Join(", ", lost)}.");
            }
        }
    }

    private static void CompareSchema(string at, Resolver before, JsonNode? old, Resolver after, JsonNode? now, Direction direction, List<string> changes, int depth)
    {
        old = before.Resolve(old);
        now = after.Resolve(now);
        if (old is not JsonObject oldSchema || depth > 16)
        {
            return;
        }
        if (now is not JsonObject newSchema)
        {
            changes.Add($"{at}: the schema was removed.");
            return;
        }
        var oldTypes = Types(oldSchema);
        var newTypes = Types(newSchema);
        if (oldTypes.Count > 0 && newTypes.Count > 0)
        {
            // A request must still accept every type it did; an answer must not bring a type the client never saw.
            var narrowed = direction == Direction.Request ? oldTypes.Except(newTypes) : newTypes.Except(oldTypes);
            foreach (var type in narrowed)
            {
                changes.Add(direction == Direction.Request ? $"{at}: no longer accepts type {type}." : $"{at}: may now be of type {type}.");
            }
        }
        var oldEnum = (oldSchema["enum"] as JsonArray)?.Select(v => v?.ToJsonString()).ToHashSet();
        var newEnum = (newSchema["enum"] as JsonArray)?.Select(v => v?.ToJsonString()).ToHashSet();
        if (direction == Direction.Request && oldEnum is not null && newEnum is not null && oldEnum.Except(newEnum).ToList() is { Count: > 0 } removed)
        {
            changes.Add($"{at}: no longer accepts {string.Join(", ", removed)}.");
        }
        if (direction == Direction.Response && newEnum is not null && (oldEnum is null || newEnum.Except(oldEnum).Any()))
        {
            changes.Add($"{at}: may now be {string.Join(", ", newEnum.Except(oldEnum ?? []))}.");
        }

        var oldRequired = Required(oldSchema);
        var newRequired = Required(newSchema);
        var oldProperties = oldSchema["properties"] as JsonObject ?? [];
        var newProperties = newSchema["properties"] as JsonObject ?? [];
        if (direction == Direction.Request)
        {
            foreach (var name in newRequired.Except(oldRequired))
            {
                changes.Add($"{at}: field '{name}' is now required.");
            }
        }
        else
        {
            foreach (var (name, _) in oldProperties)
            {
                if (!newProperties.ContainsKey(name))
                {
                    changes.Add($"{at}: field '{name}' was removed.");
                }
            }
            foreach (var name in oldRequired.Except(newRequired))
            {
                changes.Add($"{at}: field '{name}' is no longer always present.");
            }
        }
        foreach (var (name, property) in oldProperties)
        {
            if (newProperties[name] is { } next)
            {
                CompareSchema($"{at}.{name}", before, property, after, next, direction, changes, depth + 1);
            }
        }
        if (oldSchema["items"] is { } items)
        {
            CompareSchema($"{at}[]", before, items, after, newSchema["items"], direction, changes, depth + 1);
        }
    }

    private static HashSet<string> Required(JsonObject schema) =>
        (schema["required"] as JsonArray ?? []).Select(v => v?.GetValue<string>()).OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>The JSON types a schema allows (<c>"type": "string"</c> or <c>["null", "string"]</c>); integer counts as a number too.</summary>
    private static HashSet<string> Types(JsonNode? schema)
    {
        var types = schema?["type"] switch
        {
            JsonArray many => many.Select(t => t?.GetValue<string>()).OfType<string>().ToHashSet(StringComparer.Ordinal),
            JsonValue one when one.GetValue<string>() is { } type => [type],
            _ => new HashSet<string>(StringComparer.Ordinal),
        };
        return types;
    }

    private sealed class Resolver(JsonObject document)
    {
        public JsonNode? Resolve(JsonNode? schema)
        {
            for (var hops = 0; hops < 32 && schema?["$ref"]?.GetValue<string>() is { } reference && reference.StartsWith("#/", StringComparison.Ordinal); hops++)
            {
                JsonNode? target = document;
                foreach (var part in reference[2..].Split('/'))
                {
                    target = target?[part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)];
                }
                schema = target;
            }
            return schema;
        }
    }
}

using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Yarp.ReverseProxy.Configuration;

namespace Portico.Gateway.OpenApi;

/// <summary>
/// Routes that a request header chooses between on one public path and method — the shop's <c>products-v2-header</c>
/// sends <c>GET /api/products</c> with <c>Api-Version: 2</c> to Catalog v2, the same request without it to v1 — as one
/// OpenAPI operation, since a path item has one operation per method and OpenAPI 3.1 cannot make an operation depend on a
/// header's value:
/// <list type="bullet">
/// <item>the header is a parameter of the operation: optional where a route without the header match serves the rest
/// (the default), else required; its schema lists the values that choose a version (<c>enum</c>, for
/// <c>ExactHeader</c>) or their prefixes (<c>pattern</c>, for <c>HeaderPrefix</c>); other modes are described only;</item>
/// <item>each answer and request body a version shapes differently is <c>anyOf</c> the versions' schemas — not
/// <c>oneOf</c>, which would also claim that no answer fits two versions' schemas, untrue whenever they leave room
/// for other fields;</item>
/// <item>a parameter only another version takes is there too, optional, saying which version takes it;</item>
/// <item><c>x-portico-versions</c> lists the versions exactly: each route, the header values that choose it, and for
/// a header-chosen one its whole operation (parameters, answers, security, deprecation) as that route documents it —
/// what a client needs to know which schema answers which request, that the standard fields can only union.</item>
/// </list>
/// The operation's own fields (<c>deprecated</c>, <c>operationId</c>, <c>x-portico-route</c> …) stay the default
/// version's.
/// </summary>
internal static class HeaderVersions
{
    public const string Extension = "x-portico-versions";

    /// <summary>Whether YARP chooses the route by a request header.</summary>
    public static bool IsHeaderMatched(RouteConfig route) => route.Match.Headers is { Count: > 0 };

    /// <summary>An operation that only <paramref name="route"/> serves: the header is required, and the extension lists this one version.</summary>
    public static void Claim(JsonObject operation, RouteConfig route, string? servicePath)
    {
        operation[Extension] = new JsonArray(Version(operation, route, servicePath, withOperation: false));
        DescribeHeaders(operation);
    }

    /// <summary>Adds <paramref name="variant"/>, the same path and method reached through header-matched <paramref name="route"/>, to <paramref name="operation"/>.</summary>
    public static void Add(JsonObject operation, JsonObject variant, RouteConfig route, string? servicePath)
    {
        if (operation[Extension] is not JsonArray versions)
        {
            // The operation's own route matches no header: it serves every request the header routes do not take.
            var first = new JsonObject { ["route"] = operation["x-portico-route"]?.DeepClone(), ["default"] = true };
            if (operation["deprecated"] is { } deprecated)
            {
                first["deprecated"] = deprecated.DeepClone();
            }
            operation[Extension] = versions = new JsonArray(first);
        }
        variant.Remove("operationId");
        var condition = Condition(route);

        foreach (var parameter in (variant["parameters"] as JsonArray ?? []).OfType<JsonObject>().Where(p => p["in"]?.GetValue<string>() != "header" || !IsVersionHeader(route, p)))
        {
            var parameters = operation["parameters"] as JsonArray ?? [];
            operation["parameters"] = parameters;
            if (!parameters.OfType<JsonObject>().Any(p => Same(p, parameter)))
            {
                var optional = (JsonObject)parameter.DeepClone();
                optional["required"] = false;
                optional["description"] = $"Only with {condition}{(parameter["description"] is { } text ? ": " + text.GetValue<string>() : ".")}";
                parameters.Add(optional);
            }
        }

        if (variant["requestBody"]?["content"] is JsonObject variantBody)
        {
            var body = operation["requestBody"] as JsonObject ?? new JsonObject { ["required"] = false, ["content"] = new JsonObject() };
            operation["requestBody"] = body;
            UnionContent((JsonObject)body["content"]!, variantBody);
        }
        var responses = operation["responses"] as JsonObject ?? [];
        operation["responses"] = responses;
        foreach (var (status, response) in variant["responses"] as JsonObject ?? [])
        {
            if (response is not JsonObject answer)
            {
                continue;
            }
            if (responses[status] is not JsonObject existing)
            {
                var added = (JsonObject)answer.DeepClone();
                added["description"] = $"With {condition}: {answer["description"]?.GetValue<string>()}";
                responses[status] = added;
            }
            else if (answer["content"] is JsonObject content && !existing.ContainsKey("$ref"))
            {
                var own = existing["content"] as JsonObject ?? [];
                existing["content"] = own;
                UnionContent(own, content);
            }
        }

        versions.Add(Version(variant, route, servicePath, withOperation: true));
        DescribeHeaders(operation);
    }

    private static JsonObject Version(JsonObject operation, RouteConfig route, string? servicePath, bool withOperation)
    {
        var version = new JsonObject
        {
            ["route"] = route.RouteId,
            ["headers"] = new JsonArray([.. route.Match.Headers!.Select(h => (JsonNode)new JsonObject
            {
                ["name"] = h.Name,
                ["mode"] = h.Mode.ToString(),
                ["values"] = new JsonArray([.. (h.Values ?? []).Select(v => JsonValue.Create(v))]),
                ["caseSensitive"] = h.IsCaseSensitive,
            })]),
            ["cluster"] = route.ClusterId,
        };
        if (servicePath is not null)
        {
            version["servicePath"] = servicePath; // where the service has it, when its document says
        }
        if (operation["deprecated"] is { } deprecated)
        {
            version["deprecated"] = deprecated.DeepClone();
        }
        if (withOperation)
        {
            version["operation"] = operation.DeepClone();
        }
        return version;
    }

    /// <summary>
    /// One header parameter per header the versions match on, made afresh from <see cref="Extension"/>: required only
    /// when there is no default version and every version matches on it.
    /// </summary>
    private static void DescribeHeaders(JsonObject operation)
    {
        var versions = ((JsonArray)operation[Extension]!).OfType<JsonObject>().ToList();
        var hasDefault = versions.Any(v => v["default"]?.GetValue<bool>() == true);
        var matches = versions.SelectMany(v => (v["headers"] as JsonArray ?? []).OfType<JsonObject>().Select(h => (Version: v, Header: h))).ToList();
        var names = matches.Select(m => m.Header["name"]!.GetValue<string>()).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

        var parameters = operation["parameters"] as JsonArray ?? [];
        operation["parameters"] = parameters;
        foreach (var stale in parameters.OfType<JsonObject>().Where(p => p["in"]?.GetValue<string>() == "header" && names.Contains(p["name"]!.GetValue<string>(), StringComparer.OrdinalIgnoreCase)).ToList())
        {
            parameters.Remove(stale);
        }
        foreach (var name in names)
        {
            var byName = matches.Where(m => string.Equals(m.Header["name"]!.GetValue<string>(), name, StringComparison.OrdinalIgnoreCase)).ToList();
            var modes = byName.Select(m => m.Header["mode"]!.GetValue<string>()).Distinct(StringComparer.Ordinal).ToList();
            var values = byName.SelectMany(m => (m.Header["values"] as JsonArray ?? []).Select(v => v!.GetValue<string>())).Distinct(StringComparer.Ordinal).ToList();
            var schema = new JsonObject { ["type"] = "string" };
            if (modes is [nameof(HeaderMatchMode.ExactHeader)] && values.Count > 0)
            {
                schema["enum"] = new JsonArray([.. values.Select(v => JsonValue.Create(v))]);
            }
            else if (modes is [nameof(HeaderMatchMode.HeaderPrefix)] && values.Count > 0)
            {
                schema["pattern"] = "^(?:" + string.Join('|', values.Select(Regex.Escape)) + ")";
            }
            var chosen = byName.Select(m => $"{Describe(m.Header)} chooses route '{m.Version["route"]}' (cluster '{m.Version["cluster"]}'{(m.Version["servicePath"] is { } at ? $", {at}" : "")})");
            var fallback = versions.FirstOrDefault(v => v["default"]?.GetValue<bool>() == true) is { } first
                ? $"; without it, route '{first["route"]}'{(first["deprecated"]?.GetValue<bool>() == true ? " (deprecated)" : "")}"
                : "";
            parameters.Add(new JsonObject
            {
                ["name"] = name,
                ["in"] = "header",
                ["required"] = !hasDefault && versions.All(v => (v["headers"] as JsonArray ?? []).OfType<JsonObject>().Any(h => string.Equals(h["name"]!.GetValue<string>(), name, StringComparison.OrdinalIgnoreCase))),
                ["description"] = $"Chooses the version: {string.Join("; ", chosen)}{fallback}. Each version's parameters and answers: {Extension}.",
                ["schema"] = schema,
            });
        }
    }

    private static string Describe(JsonObject header)
    {
        var name = header["name"]!.GetValue<string>();
        var values = string.Join(" or ", (header["values"] as JsonArray ?? []).Select(v => $"'{v!.GetValue<string>()}'"));
        return header["mode"]!.GetValue<string>() switch
        {
            nameof(HeaderMatchMode.ExactHeader) => $"{name}: {values}",
            nameof(HeaderMatchMode.HeaderPrefix) => $"{name} starting with {values}",
            nameof(HeaderMatchMode.Contains) => $"{name} containing {values}",
            nameof(HeaderMatchMode.NotContains) => $"{name} not containing {values}",
            nameof(HeaderMatchMode.Exists) => $"any {name}",
            nameof(HeaderMatchMode.NotExists) => $"no {name}",
            var other => $"{name} ({other} {values})",
        };
    }

    private static string Condition(RouteConfig route) => string.Join(" and ", route.Match.Headers!.Select(h => Describe(new JsonObject
    {
        ["name"] = h.Name,
        ["mode"] = h.Mode.ToString(),
        ["values"] = new JsonArray([.. (h.Values ?? []).Select(v => JsonValue.Create(v))]),
    })));

    private static bool IsVersionHeader(RouteConfig route, JsonObject parameter) =>
        route.Match.Headers!.Any(h => string.Equals(h.Name, parameter["name"]?.GetValue<string>(), StringComparison.OrdinalIgnoreCase));

    private static bool Same(JsonObject a, JsonObject b) =>
        a["in"]?.GetValue<string>() == b["in"]?.GetValue<string>()
        && string.Equals(a["name"]?.GetValue<string>(), b["name"]?.GetValue<string>(), a["in"]?.GetValue<string>() == "header" ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>Each media type's schema becomes <c>anyOf</c> the two where they differ; a media type only one has is kept.</summary>
    private static void UnionContent(JsonObject content, JsonObject added)
    {
        foreach (var (type, media) in added)
        {
            if (media is not JsonObject addedMedia)
            {
                continue;
            }
            if (content[type] is not JsonObject own)
            {
                content[type] = addedMedia.DeepClone();
                continue;
            }
            if (addedMedia["schema"] is not { } schema)
            {
                continue;
            }
            if (own["schema"] is not { } existing)
            {
                continue; // any body already
            }
            var branches = existing is JsonObject { Count: 1 } union && union["anyOf"] is JsonArray anyOf ? anyOf : null;
            if (branches is null)
            {
                if (JsonNode.DeepEquals(existing, schema))
                {
                    continue;
                }
                own["schema"] = new JsonObject { ["anyOf"] = new JsonArray(existing.DeepClone(), schema.DeepClone()) };
            }
            else if (!branches.Any(b => JsonNode.DeepEquals(b, schema)))
            {
                branches.Add(schema.DeepClone());
            }
        }
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Portico.Tests.OpenApi;

namespace Portico.SystemTests;

/// <summary>
/// Whether recorded requests are ones the gateway's public OpenAPI document describes: the path and method are an
/// operation; the required query and header parameters are there; a body is one the operation takes, and a JSON body
/// validates against its schema (JSON Schema 2020-12, <see cref="OpenApiJsonSchema"/>).
/// <list type="bullet">
/// <item>A request answered 404 or 405 reached nothing, so it need not be an operation (a test of an unknown route).</item>
/// <item>A body answered 400, 413, 415 or 422 was refused as wrong, so it need not fit (a test of bad input).</item>
/// <item>Routes of a hidden policy (admin) are left out of the public document by design, and the gateway's own
/// document, reference page and health endpoints are not part of the API: requests to them are not checked.</item>
/// </list>
/// </summary>
internal sealed class OpenApiConformance
{
    private static readonly string[] OwnPaths = ["/openapi/", "/docs", "/health", "/alive", "/portico/"];
    private static readonly int[] RefusedBodies = [400, 413, 415, 422];

    private readonly IReadOnlyList<Regex> _hidden;
    private readonly OpenApiJsonSchema _schemas;
    private readonly List<(Regex Pattern, int Literals, JsonObject Item)> _paths;

    public OpenApiConformance(JsonObject document, IReadOnlyList<Regex> hidden)
    {
        _hidden = hidden;
        _schemas = new OpenApiJsonSchema(document);
        _paths = [.. (document["paths"] as JsonObject ?? []).Select(p => (Pattern: Template(p.Key), Literals: Regex.Replace(p.Key, @"\{[^}]+\}", "").Length, Item: (JsonObject)p.Value!))
            .OrderByDescending(p => p.Literals)]; // the most literal template first: /api/products/featured before /api/products/{id}
    }

    /// <summary>One line per problem, naming the test and the request.</summary>
    public List<string> Check(IEnumerable<RecordedRequest> requests)
    {
        var problems = new List<string>();
        foreach (var request in requests)
        {
            if (OwnPaths.Any(p => request.Path.StartsWith(p, StringComparison.OrdinalIgnoreCase)) || _hidden.Any(h => h.IsMatch(request.Path)))
            {
                continue;
            }
            var at = $"{request.Test}: {request.Method} {request.Path}{request.Query} ({request.Status})";
            var operation = _paths.Where(p => p.Pattern.IsMatch(request.Path)).Select(p => p.Item[request.Method.ToLowerInvariant()]).OfType<JsonObject>().FirstOrDefault();
            if (operation is null)
            {
                if (request.Status is not (404 or 405))
                {
                    problems.Add($"{at}: no operation of the document has this path and method.");
                }
                continue;
            }
            problems.AddRange(CheckParameters(operation, request).Select(p => $"{at}: {p}"));
            problems.AddRange(CheckBody(operation, request).Select(p => $"{at}: {p}"));
        }
        return problems;
    }

    private static IEnumerable<string> CheckParameters(JsonObject operation, RecordedRequest request)
    {
        var query = request.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => Uri.UnescapeDataString(p.Split('=')[0])).ToHashSet(StringComparer.Ordinal);
        foreach (var parameter in (operation["parameters"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (parameter["required"]?.GetValue<bool>() != true)
            {
                continue;
            }
            var name = parameter["name"]!.GetValue<string>();
            var where = parameter["in"]!.GetValue<string>();
            if ((where == "query" && !query.Contains(name)) || (where == "header" && !request.Headers.Contains(name)))
            {
                yield return $"the required {where} parameter '{name}' is missing.";
            }
        }
    }

    private IEnumerable<string> CheckBody(JsonObject operation, RecordedRequest request)
    {
        var requestBody = operation["requestBody"] as JsonObject;
        if (request.Body is not { Length: > 0 } body)
        {
            if (requestBody?["required"]?.GetValue<bool>() == true && !RefusedBodies.Contains(request.Status))
            {
                yield return "the operation requires a body and none was sent.";
            }
            yield break;
        }
        if (requestBody?["content"] is not JsonObject content)
        {
            yield return "a body was sent to an operation that takes none.";
            yield break;
        }
        var type = request.ContentType ?? "application/octet-stream";
        var media = content[type] ?? content.Where(c => c.Key.EndsWith("/*", StringComparison.Ordinal) && type.StartsWith(c.Key[..^1], StringComparison.OrdinalIgnoreCase)).Select(c => c.Value).FirstOrDefault() ?? content["*/*"];
        if (media is null)
        {
            yield return $"the body is {type}; the operation takes {string.Join(", ", content.Select(c => c.Key))}.";
            yield break;
        }
        if (RefusedBodies.Contains(request.Status) || media["schema"] is not JsonNode schema || !type.EndsWith("json", StringComparison.OrdinalIgnoreCase))
        {
            yield break;
        }
        IReadOnlyList<string> errors;
        try
        {
            errors = _schemas.Errors(schema, body);
        }
        catch (JsonException ex)
        {
            errors = [$"the body is not JSON: {ex.Message}"];
        }
        foreach (var error in errors)
        {
            yield return "the body does not fit the operation's schema: " + error;
        }
    }

    /// <summary>An OpenAPI path template as a regular expression: each <c>{name}</c> one segment.</summary>
    private static Regex Template(string path) =>
        new("^" + string.Concat(Regex.Split(path, @"(\{[^}]+\})").Select(part => part.StartsWith('{') ? "[^/]+" : Regex.Escape(part))) + "/?$", RegexOptions.CultureInvariant);

    /// <summary>
    /// The public paths of the gateway file's routes, compositions and job routes that name a hidden policy
    /// (<c>Portico:OpenApi:HiddenPolicies</c>, <c>["admin"]</c> unless set), as regular expressions.
    /// </summary>
    public static List<Regex> HiddenRoutes(string gatewayFile)
    {
        using var file = JsonDocument.Parse(File.ReadAllText(gatewayFile), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var root = file.RootElement;
        var hidden = new HashSet<string>(["admin"], StringComparer.OrdinalIgnoreCase);
        if (root.TryGetProperty("Portico", out var portico) && portico.TryGetProperty("OpenApi", out var openApi) && openApi.TryGetProperty("HiddenPolicies", out var policies))
        {
            hidden = new HashSet<string>(policies.EnumerateArray().Select(p => p.GetString()!), StringComparer.OrdinalIgnoreCase);
        }
        var paths = new List<string>();
        void Collect(JsonElement entries, Func<JsonElement, string?> path)
        {
            foreach (var entry in entries.EnumerateObject().Select(e => e.Value).Where(e => e.ValueKind == JsonValueKind.Object))
            {
                if (entry.TryGetProperty("AuthorizationPolicy", out var policy) && hidden.Contains(policy.GetString() ?? "") && path(entry) is { } template)
                {
                    paths.Add(template);
                }
            }
        }
        if (root.TryGetProperty("ReverseProxy", out var proxy) && proxy.TryGetProperty("Routes", out var routes))
        {
            Collect(routes, r => r.TryGetProperty("Match", out var match) && match.TryGetProperty("Path", out var path) ? path.GetString() : null);
        }
        foreach (var section in new[] { "Compositions", "Jobs" })
        {
            if (portico.ValueKind == JsonValueKind.Object && portico.TryGetProperty(section, out var entries) && entries.ValueKind == JsonValueKind.Object)
            {
                Collect(entries, e => e.TryGetProperty("Path", out var path) ? path.GetString() : null);
            }
        }
        // A route template: /{**rest} any rest of the path or none, {name} or {name:constraint} one segment.
        return [.. paths.Select(p => new Regex("^" + string.Concat(Regex.Split(p, @"(/\{\*\*[^}]*\}|\{[^}]*\})").Select(part =>
            part.StartsWith("/{**", StringComparison.Ordinal) ? "(/.*)?" : part.StartsWith('{') ? "[^/]+" : Regex.Escape(part))) + "/?$", RegexOptions.CultureInvariant))];
    }
}

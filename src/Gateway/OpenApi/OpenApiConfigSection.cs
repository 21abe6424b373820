using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.OpenApi;

/// <summary>
/// <c>Portico:OpenApi</c> of one version of the gateway file: what the merged document says beyond what the routes and
/// the services' own documents say.
/// </summary>
internal sealed record OpenApiSettings(
    string Title,
    string Version,
    TimeSpan RefreshInterval,
    IReadOnlySet<string> HiddenPolicies,
    IReadOnlyDictionary<string, DeclaredShape> Compositions)
{
    public static readonly OpenApiSettings Default = new("Portico", "v1", TimeSpan.FromSeconds(30),
        new HashSet<string>(["admin"], StringComparer.OrdinalIgnoreCase), new Dictionary<string, DeclaredShape>());
}

/// <summary>What a composition takes and answers, as JSON Schema, where the gateway cannot derive it from the templates.</summary>
internal sealed record DeclaredShape(string? Summary, JsonObject? Request, JsonObject? Response);

/// <summary>
/// Reads <c>Portico:OpenApi</c>: <c>Title</c>, <c>RefreshInterval</c> (how often each service's document is fetched again),
/// <c>HiddenPolicies</c> (routes that name one are left out of the public document; <c>["admin"]</c> by default) and
/// <c>Compositions:{name}</c> with <c>Summary</c>, <c>Request</c> and <c>Response</c> JSON Schemas.
/// A cluster publishes its document where its metadata <c>Portico.OpenApi</c> says (<c>/openapi/v1.json</c>).
/// </summary>
internal sealed class OpenApiConfigSection : IGatewayConfigSection
{
    public const string SectionPath = "Portico:OpenApi";

    /// <summary>Cluster metadata naming the path of the cluster's own OpenAPI document.</summary>
    public const string DocumentMetadataKey = "Portico.OpenApi";

    private static readonly HashSet<string> Keys = new(StringComparer.OrdinalIgnoreCase) { "Title", "Version", "RefreshInterval", "HiddenPolicies", "Compositions" };
    private static readonly HashSet<string> ShapeKeys = new(StringComparer.OrdinalIgnoreCase) { "Summary", "Request", "Response" };

    public object Read(GatewayConfigContext context)
    {
        foreach (var cluster in context.Clusters)
        {
            if (cluster.Metadata?.GetValueOrDefault(DocumentMetadataKey) is { } path && (!path.StartsWith('/') || path.Contains('?', StringComparison.Ordinal)))
            {
                context.Errors.Add($"Cluster '{cluster.ClusterId}': metadata {DocumentMetadataKey} must be a path such as '/openapi/v1.json', not '{path}'.");
            }
        }
        if (context.Json.ValueKind != JsonValueKind.Object
            || !TryGet(context.Json, "Portico", out var portico)
            || !TryGet(portico, "OpenApi", out var section))
        {
            return OpenApiSettings.Default;
        }
        if (section.ValueKind != JsonValueKind.Object)
        {
            context.Errors.Add($"{SectionPath} must be an object.");
            return OpenApiSettings.Default;
        }

        var settings = OpenApiSettings.Default;
        foreach (var property in section.EnumerateObject())
        {
            var at = $"{SectionPath}:{property.Name}";
            switch (Keys.TryGetValue(property.Name, out var key) ? key : null)
            {
                case "Title" when property.Value.ValueKind == JsonValueKind.String:
                    settings = settings with { Title = property.Value.GetString()! };
                    break;
                case "Version" when property.Value.ValueKind == JsonValueKind.String:
                    settings = settings with { Version = property.Value.GetString()! };
                    break;
                case "RefreshInterval":
                    if (property.Value.ValueKind == JsonValueKind.String
                        && TimeSpan.TryParse(property.Value.GetString(), CultureInfo.InvariantCulture, out var interval) && interval >= TimeSpan.FromSeconds(1))
                    {
                        settings = settings with { RefreshInterval = interval };
                    }
                    else
                    {
                        context.Errors.Add($"{at} must be a time span of at least one second such as \"00:00:30\".");
                    }
                    break;
                case "HiddenPolicies" when property.Value.ValueKind == JsonValueKind.Array && property.Value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String):
                    settings = settings with { HiddenPolicies = new HashSet<string>(property.Value.EnumerateArray().Select(v => v.GetString()!), StringComparer.OrdinalIgnoreCase) };
                    break;
                case "Compositions" when property.Value.ValueKind == JsonValueKind.Object:
                    settings = settings with { Compositions = ReadShapes(property.Value, CompositionNames(portico), context.Errors) };
                    break;
                case null:
                    context.Errors.Add($"{at} is not a setting; expected one of {string.Join(", ", Keys)}.");
                    break;
                default:
                    context.Errors.Add($"{at} has the wrong type.");
                    break;
            }
        }
        return settings;
    }

    private static Dictionary<string, DeclaredShape> ReadShapes(JsonElement compositions, HashSet<string> known, ICollection<string> errors)
    {
        var shapes = new Dictionary<string, DeclaredShape>(StringComparer.OrdinalIgnoreCase);
        foreach (var composition in compositions.EnumerateObject())
        {
            var at = $"{SectionPath}:Compositions:{composition.Name}";
            if (!known.Contains(composition.Name))
            {
                errors.Add($"{at}: there is no composition '{composition.Name}' in Portico:Compositions.");
                continue;
            }
            if (composition.Value.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{at} must be an object with Summary, Request and Response.");
                continue;
            }
            string? summary = null;
            JsonObject? request = null, response = null;
            foreach (var part in composition.Value.EnumerateObject())
            {
                var name = ShapeKeys.TryGetValue(part.Name, out var k) ? k : null;
                if (name is null)
                {
                    errors.Add($"{at}:{part.Name} is not a setting; expected Summary, Request or Response.");
                }
                else if (name == "Summary")
                {
                    summary = part.Value.ValueKind == JsonValueKind.String ? part.Value.GetString() : null;
                    if (summary is null)
                    {
                        errors.Add($"{at}:Summary must be a string.");
                    }
                }
                else if (part.Value.ValueKind != JsonValueKind.Object)
                {
                    errors.Add($"{at}:{name} must be a JSON Schema object such as {{ \"type\": \"object\" }}.");
                }
                else if (name == "Request")
                {
                    request = (JsonObject)JsonNode.Parse(part.Value.GetRawText())!;
                }
                else
                {
                    response = (JsonObject)JsonNode.Parse(part.Value.GetRawText())!;
                }
            }
            shapes[composition.Name] = new DeclaredShape(summary, request, response);
        }
        return shapes;
    }

    private static HashSet<string> CompositionNames(JsonElement portico) =>
        TryGet(portico, "Compositions", out var compositions) && compositions.ValueKind == JsonValueKind.Object
            ? new HashSet<string>(compositions.EnumerateObject().Select(c => c.Name), StringComparer.OrdinalIgnoreCase)
            : [];

    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.NameEquals(name) || property.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    value = property.Value;
                    return true;
                }
            }
        }
        value = default;
        return false;
    }
}

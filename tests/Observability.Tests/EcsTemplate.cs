using System.Text.Json;

namespace Portico.Observability.Tests;

/// <summary>
/// The Elasticsearch index template for the ECS log lines, read as the field types it declares, and a check of one
/// line against it: every field declared, every value of a type the mapping accepts.
/// </summary>
internal sealed class EcsTemplate
{
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);
    private readonly List<(string Prefix, string Type)> _dynamicPrefixes = [];

    public EcsTemplate(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var mappings = document.RootElement.GetProperty("template").GetProperty("mappings");
        Collect(mappings.GetProperty("properties"), "");
        foreach (var template in mappings.GetProperty("dynamic_templates").EnumerateArray().SelectMany(t => t.EnumerateObject()))
        {
            var match = template.Value.GetProperty("path_match").GetString()!;
            _dynamicPrefixes.Add((match.TrimEnd('*'), template.Value.GetProperty("mapping").GetProperty("type").GetString()!));
        }
    }

    public static EcsTemplate Shipped { get; } = new(Repo.PathOf("deploy/observability/elasticsearch/portico-logs-template.json"));

    public IReadOnlyDictionary<string, string> Types => _types;

    /// <summary>Problems with one JSON line; empty when Elasticsearch would index every field as declared.</summary>
    public IReadOnlyList<string> Check(string line)
    {
        var problems = new List<string>();
        using var document = JsonDocument.Parse(line);
        Walk(document.RootElement, "", problems);
        return problems;
    }

    private void Walk(JsonElement element, string prefix, List<string> problems)
    {
        foreach (var property in element.EnumerateObject())
        {
            var path = prefix + property.Name;
            if (property.Value.ValueKind == JsonValueKind.Object && !_types.ContainsKey(path))
            {
                Walk(property.Value, path + ".", problems);
                continue;
            }
            var type = _types.TryGetValue(path, out var declared) ? declared
                : _dynamicPrefixes.FirstOrDefault(d => path.StartsWith(d.Prefix, StringComparison.Ordinal)).Type;
            if (type is null)
            {
                problems.Add($"{path} is not in the index template");
            }
            else if (!Accepts(type, property.Value))
            {
                problems.Add($"{path} is {property.Value.ValueKind}, the template maps it as {type}");
            }
        }
    }

    private static bool Accepts(string type, JsonElement value) => type switch
    {
        "keyword" or "match_only_text" or "text" or "wildcard" => value.ValueKind == JsonValueKind.String,
        "long" or "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "date" or "date_nanos" => value.ValueKind == JsonValueKind.String && DateTimeOffset.TryParse(value.GetString(), System.Globalization.CultureInfo.InvariantCulture, out _),
        _ => false,
    };

    private void Collect(JsonElement properties, string prefix)
    {
        foreach (var field in properties.EnumerateObject())
        {
            if (field.Value.TryGetProperty("properties", out var nested))
            {
                Collect(nested, prefix + field.Name + ".");
            }
            else if (field.Value.TryGetProperty("type", out var type) && type.GetString() != "object")
            {
                _types[prefix + field.Name] = type.GetString()!;
            }
        }
    }
}

internal static class Repo
{
    public static readonly string Root = Find();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Portico.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Portico.slnx not found above " + AppContext.BaseDirectory);
    }
}

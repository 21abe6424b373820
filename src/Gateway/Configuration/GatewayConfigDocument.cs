using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace Portico.Gateway.Configuration;

/// <summary>
/// One parsed version of the gateway file. Parsing is ours rather than the configuration system's so that
/// a duplicate route id is reported instead of silently merged, every mistake is listed at once, and a
/// broken edit never reaches the running proxy (the JSON configuration provider empties itself on a
/// failed reload, which would take every route down).
/// </summary>
internal sealed class GatewayConfigDocument
{
    private static readonly JsonDocumentOptions ParseOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 32,
    };

    private GatewayConfigDocument(IConfigurationRoot configuration, JsonElement root, IReadOnlyList<string> errors)
    {
        Configuration = configuration;
        Root = root;
        Errors = errors;
    }

    /// <summary>The file as JSON, for sections whose values are themselves JSON (templates).</summary>
    public JsonElement Root { get; }

    /// <summary>The file as configuration keys (<c>ReverseProxy:Routes:products:ClusterId</c> …).</summary>
    public IConfigurationRoot Configuration { get; }

    /// <summary>Syntax and structure errors; empty when the file is well formed.</summary>
    public IReadOnlyList<string> Errors { get; }

    public static GatewayConfigDocument Parse(string json)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var errors = new List<string>();
        var root = default(JsonElement);
        try
        {
            using var document = JsonDocument.Parse(json, ParseOptions);
            root = document.RootElement.Clone();
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add("The gateway file must contain a JSON object.");
            }
            else
            {
                Flatten(document.RootElement, prefix: null, data, errors);
            }
        }
        catch (JsonException ex)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"Invalid JSON at line {ex.LineNumber + 1}, position {ex.BytePositionInLine + 1}: {FirstSentence(ex.Message)}"));
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(data).Build();
        return new GatewayConfigDocument(configuration, root, errors);
    }

    private static void Flatten(JsonElement element, string? prefix, Dictionary<string, string?> data, List<string> errors)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                var empty = true;
                foreach (var property in element.EnumerateObject())
                {
                    empty = false;
                    if (!seen.Add(property.Name))
                    {
                        errors.Add(DuplicateMessage(prefix, property.Name));
                        continue;
                    }
                    Flatten(property.Value, prefix is null ? property.Name : prefix + ConfigurationPath.KeyDelimiter + property.Name, data, errors);
                }
                if (empty && prefix is not null)
                {
                    data[prefix] = null;
                }
                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, prefix + ConfigurationPath.KeyDelimiter + index.ToString(CultureInfo.InvariantCulture), data, errors);
                    index++;
                }
                if (index == 0)
                {
                    data[prefix!] = null;
                }
                break;
            case JsonValueKind.String:
                data[prefix!] = element.GetString();
                break;
            case JsonValueKind.Null:
                data[prefix!] = null;
                break;
            default:
                data[prefix!] = element.GetRawText();
                break;
        }
    }

    private static string DuplicateMessage(string? prefix, string name) => prefix switch
    {
        _ when string.Equals(prefix, "ReverseProxy:Routes", StringComparison.OrdinalIgnoreCase) => $"Duplicate route id '{name}'.",
        _ when string.Equals(prefix, "ReverseProxy:Clusters", StringComparison.OrdinalIgnoreCase) => $"Duplicate cluster id '{name}'.",
        null => $"Duplicate key '{name}'.",
        _ => $"Duplicate key '{prefix}:{name}'.",
    };

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return end > 0 ? message[..end].TrimEnd() : message;
    }
}

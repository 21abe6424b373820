using System.Globalization;
using System.Text.Json;

namespace Portico.Gateway.Jobs;

/// <summary>
/// Checks a job request's body against its route's parameters before anything is stored: a JSON object (or no body
/// at all) with only the declared fields, each of its type and within its limits, required ones present, and date
/// ranges the right way round. The result is the body as the worker gets it: defaults filled in, dates normalised.
/// </summary>
internal static class JobRequestReader
{
    /// <summary>Where errors about the body as a whole are reported.</summary>
    public const string BodyField = "body";

    private static readonly JsonElement Empty = JsonSerializer.SerializeToElement(new Dictionary<string, string>(), JobsJson.Default.DictionaryStringString);

    public static (JsonElement Parameters, Dictionary<string, string[]> Errors) Read(JobRoute route, ReadOnlySpan<byte> body)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        JsonElement root;
        if (body.Trim(" \t\r\n"u8).IsEmpty)
        {
            root = Empty;
        }
        else
        {
            try
            {
                var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 16 });
                root = JsonElement.ParseValue(ref reader);
            }
            catch (JsonException ex)
            {
                errors[BodyField] = [$"The body is not JSON: {ex.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0]}"];
                return (default, errors);
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                errors[BodyField] = ["The body must be a JSON object, or empty."];
                return (default, errors);
            }
        }

        var declared = route.Parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);
        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!declared.TryGetValue(property.Name, out var parameter))
            {
                errors[property.Name] = [route.Parameters.Count == 0
                    ? $"Unknown field: this job takes no parameters."
                    : $"Unknown field: this job takes {string.Join(", ", route.Parameters.Select(p => p.Name))}."];
                continue;
            }
            if (values.ContainsKey(property.Name))
            {
                errors[property.Name] = ["The field is given twice."];
                continue;
            }
            if (property.Value.ValueKind == JsonValueKind.Null)
            {
                continue; // null is "not given"
            }
            if (Check(parameter, property.Value) is { } problem)
            {
                errors[property.Name] = [problem];
                continue;
            }
            values[property.Name] = Normalize(parameter, property.Value);
        }
        foreach (var parameter in route.Parameters)
        {
            if (values.ContainsKey(parameter.Name) || errors.ContainsKey(parameter.Name))
            {
                continue;
            }
            if (parameter.Required)
            {
                errors[parameter.Name] = ["The field is required."];
            }
            else if (parameter.Default is { } fallback)
            {
                values[parameter.Name] = fallback;
            }
        }
        foreach (var parameter in route.Parameters.Where(p => p.NotBefore is not null))
        {
            if (values.TryGetValue(parameter.Name, out var end) && values.TryGetValue(parameter.NotBefore!, out var start)
                && DateOnly.ParseExact(end.GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture) < DateOnly.ParseExact(start.GetString()!, "yyyy-MM-dd", CultureInfo.InvariantCulture))
            {
                errors[parameter.Name] = [$"'{parameter.Name}' must not be before '{parameter.NotBefore}'."];
            }
        }
        if (errors.Count > 0)
        {
            return (default, errors);
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var parameter in route.Parameters.Where(p => values.ContainsKey(p.Name)))
            {
                writer.WritePropertyName(parameter.Name);
                values[parameter.Name].WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return (document.RootElement.Clone(), errors);
    }

    /// <summary>What is wrong with <paramref name="value"/> for <paramref name="parameter"/>, or null.</summary>
    public static string? Check(JobParameter parameter, JsonElement value)
    {
        switch (parameter.Type)
        {
            case JobParameterType.String:
                if (value.ValueKind != JsonValueKind.String)
                {
                    return "Expected a string.";
                }
                var text = value.GetString()!;
                if (parameter.Values.Count > 0 && !parameter.Values.Contains(text, StringComparer.Ordinal))
                {
                    return $"Must be one of: {string.Join(", ", parameter.Values)}.";
                }
                return text.Length > parameter.MaxLength ? $"At most {parameter.MaxLength} characters." : null;
            case JobParameterType.Date:
                return value.ValueKind == JsonValueKind.String
                    && DateOnly.TryParseExact(value.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
                    ? null
                    : "Expected a date as yyyy-MM-dd.";
            case JobParameterType.Integer:
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
                {
                    return "Expected a whole number.";
                }
                if (number < parameter.Min)
                {
                    return $"Must be at least {parameter.Min}.";
                }
                return number > parameter.Max ? $"Must be at most {parameter.Max}." : null;
            default:
                return value.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : "Expected true or false.";
        }
    }

    /// <summary>The value as the worker receives it.</summary>
    public static JsonElement Normalize(JobParameter parameter, JsonElement value) => value.Clone();
}

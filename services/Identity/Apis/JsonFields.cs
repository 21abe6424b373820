using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Portico.Identity.Apis;

/// <summary>
/// A request body that must be one flat JSON object of known string fields, read by hand so that every
/// fault — not JSON, a wrong type, nesting, an unknown or duplicate field, too large — becomes a
/// problem+json answer naming the field (the framework's binder answers an empty 400 instead).
/// Errors for every field are collected, so one answer lists them all.
/// </summary>
internal sealed class JsonFields
{
    /// <summary>The key under which faults of the body as a whole are reported.</summary>
    public const string BodyField = "body";

    /// <summary>Largest body accepted; the auth endpoints take a few short strings.</summary>
    public const long MaxBodyBytes = 16 * 1024;

    private const int MaxReportedNameLength = 64;
    private const int MaxReportedUnknownFields = 8;

    private static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web)
    {
        MaxDepth = 8,
        AllowDuplicateProperties = false,
    };

    private readonly Dictionary<string, JsonElement> _values;

    private JsonFields(Dictionary<string, JsonElement> values, ProblemHttpResult? failure = null)
    {
        _values = values;
        Failure = failure;
    }

    /// <summary>Whether the body could not be read as an object at all; then only that is reported.</summary>
    private bool Unreadable { get; init; }

    /// <summary>A fault that is not about a field (wrong media type, body too large); answer it as is.</summary>
    public ProblemHttpResult? Failure { get; }

    public Dictionary<string, string[]> Errors { get; } = new(StringComparer.Ordinal);

    public bool HasErrors => Errors.Count > 0;

    /// <summary>
    /// Reads the body; fields other than those of <typeparamref name="TBody"/> (the record the OpenAPI document describes
    /// the body with, see <see cref="IdentityRequestSchemas"/>) are reported as errors.
    /// </summary>
    public static Task<JsonFields> ReadAsync<TBody>(HttpRequest request, CancellationToken cancellationToken) =>
        ReadAsync(request, KnownFields<TBody>.Names, cancellationToken);

    /// <summary>Reads the body; fields other than <paramref name="known"/> are reported as errors.</summary>
    public static async Task<JsonFields> ReadAsync(HttpRequest request, IReadOnlyCollection<string> known, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            return new JsonFields([], TypedResults.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "Unsupported media type",
                detail: "The request body must be JSON, sent with Content-Type: application/json."));
        }
        if (request.ContentLength > MaxBodyBytes)
        {
            return TooLarge();
        }
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = MaxBodyBytes;
        }

        Dictionary<string, JsonElement>? values;
        try
        {
            values = await JsonSerializer.DeserializeAsync<Dictionary<string, JsonElement>>(request.Body, SerializerOptions, cancellationToken);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }
        catch (JsonException e)
        {
            var fields = new JsonFields([]) { Unreadable = true };
            var field = FieldOf(e.Path);
            fields.AddError(field, field == BodyField
                ? $"The body is not a valid JSON object{Position(e)}."
                : $"{field} is not valid here{Position(e)}: expected a JSON string, with at most one field of each name.");
            return fields;
        }

        var result = new JsonFields(values ?? []) { Unreadable = values is null };
        if (values is null)
        {
            result.AddError(BodyField, "The body must be a JSON object, not null.");
            return result;
        }
        foreach (var unknown in values.Keys.Where(k => !known.Contains(k)).Take(MaxReportedUnknownFields))
        {
            result.AddError(Truncate(unknown), $"{Truncate(unknown)} is not a known field; expected {string.Join(", ", known)}.");
        }
        return result;
    }

    /// <summary>The field's string value; records an error and returns null when it is missing or not a string.</summary>
    public string? RequiredString(string name) => GetString(name, required: true);

    /// <summary>The field's string value, or null when absent; records an error when it is present but not a string.</summary>
    public string? OptionalString(string name) => GetString(name, required: false);

    /// <summary>Records <paramref name="error"/> for <paramref name="name"/> unless it is null.</summary>
    public void Check(string name, string? error)
    {
        if (error is not null)
        {
            AddError(name, error);
        }
    }

    public ValidationProblem ToValidationProblem() => TypedResults.ValidationProblem(
        Errors,
        detail: $"Invalid field(s): {string.Join(", ", Errors.Keys)}.",
        title: "Invalid request body");

    private string? GetString(string name, bool required)
    {
        if (!_values.TryGetValue(name, out var value))
        {
            if (required && !Unreadable && !Errors.ContainsKey(name))
            {
                AddError(name, $"{name} is required.");
            }
            return null;
        }
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }
        AddError(name, value.ValueKind switch
        {
            JsonValueKind.Null when required => $"{name} is required.",
            JsonValueKind.Null => $"{name} must be a string when present.",
            JsonValueKind.Object => $"{name} must be a string, not an object.",
            JsonValueKind.Array => $"{name} must be a string, not an array.",
            JsonValueKind.Number => $"{name} must be a string, not a number.",
            _ => $"{name} must be a string, not {value.ValueKind.ToString().ToLowerInvariant()}.",
        });
        return null;
    }

    private void AddError(string name, string message) =>
        Errors[name] = Errors.TryGetValue(name, out var existing) ? [.. existing, message] : [message];

    private static JsonFields TooLarge() => new([], TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "Request body too large",
        detail: $"The request body must be at most {MaxBodyBytes} bytes."));

    /// <summary>The top-level field a JSON path points into: <c>$.email.x</c> and <c>$['email']</c> give <c>email</c>; <c>$</c> gives <see cref="BodyField"/>.</summary>
    internal static string FieldOf(string? path)
    {
        if (path is null || path.Length < 3 || path[0] != '$')
        {
            return BodyField;
        }
        if (path[1] == '.')
        {
            var rest = path.AsSpan(2);
            var end = rest.IndexOfAny('.', '[');
            return Truncate((end < 0 ? rest : rest[..end]).ToString());
        }
        if (path.StartsWith("$['", StringComparison.Ordinal) && path.IndexOf("']", 3, StringComparison.Ordinal) is > 3 and var close)
        {
            return Truncate(path[3..close]);
        }
        return BodyField;
    }

    /// <summary>The JSON names of a body record's properties, in declaration order (that of the "expected …" message).</summary>
    private static class KnownFields<TBody>
    {
        public static readonly string[] Names = [.. JsonSerializerOptions.Default.GetTypeInfo(typeof(TBody)).Properties.Select(p => p.Name)];
    }

    private static string Position(JsonException e) =>
        e.LineNumber is { } line && e.BytePositionInLine is { } column ? $" (line {line + 1}, byte {column + 1})" : "";

    private static string Truncate(string name) =>
        name.Length <= MaxReportedNameLength ? name : name[..MaxReportedNameLength] + "…";
}

using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Portico.Gateway.Composition;

/// <summary>
/// A reference such as <c>request.body.items</c>, <c>request.route.id</c>, <c>request.query.city</c>,
/// <c>request.headers.Idempotency-Key</c>, <c>user.sub</c>, <c>steps.order.body.id</c> or <c>steps.order.status</c>,
/// optionally with a default for when it has no value: <c>request.query.city ?? 'Seoul'</c>.
/// </summary>
internal sealed record TemplateExpression(string Text, string Root, string? Step, string[] Path, string? Default = null)
{
    public static TemplateExpression Parse(string text, ICollection<string> errors, string where)
    {
        var fallback = text.IndexOf("??", StringComparison.Ordinal);
        if (fallback >= 0)
        {
            var literal = text[(fallback + 2)..].Trim();
            if (literal.Length < 2 || literal[0] != '\'' || literal[^1] != '\'')
            {
                errors.Add($"{where}: the default in '{{{{{text}}}}}' must be a quoted literal such as 'Seoul'.");
            }
            return Parse(text[..fallback].Trim(), errors, where) with { Text = text, Default = literal.Trim('\'') };
        }
        var parts = text.Split('.', StringSplitOptions.TrimEntries);
        switch (parts[0])
        {
            case "request" when parts.Length >= 2 && parts[1] is "body":
            case "request" when parts.Length == 3 && parts[1] is "route" or "query" or "headers":
                return new(text, "request", null, parts[1..]);
            case "user" when parts.Length == 2:
                return new(text, "user", null, parts[1..]);
            case "steps" when parts.Length >= 3 && parts[2] is "body" || (parts.Length == 3 && parts[2] == "status") || (parts.Length == 4 && parts[2] == "headers"):
                return new(text, "steps", parts[1], parts[2..]);
            default:
                errors.Add($"{where}: '{{{{{text}}}}}' is not a known reference (request.body…, request.route.X, request.query.X, request.headers.X, user.X, steps.S.body…, steps.S.status, steps.S.headers.X).");
                return new(text, "invalid", null, []);
        }
    }
}

/// <summary>A string with <c>{{…}}</c> references: a path, a query value, a header value, or a JSON string.</summary>
internal sealed class StringTemplate
{
    private readonly object[] _parts; // string literals and TemplateExpressions, in order

    private StringTemplate(object[] parts) => _parts = parts;

    public IEnumerable<TemplateExpression> Expressions => _parts.OfType<TemplateExpression>();

    /// <summary>The template is exactly one reference, so in JSON it stands for the referenced value itself.</summary>
    public TemplateExpression? Single => _parts is [TemplateExpression only] ? only : null;

    public static StringTemplate Parse(string text, ICollection<string> errors, string where)
    {
        var parts = new List<object>();
        var at = 0;
        while (at < text.Length)
        {
            var open = text.IndexOf("{{", at, StringComparison.Ordinal);
            if (open < 0)
            {
                parts.Add(text[at..]);
                break;
            }
            var close = text.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0)
            {
                errors.Add($"{where}: '{{{{' without '}}}}' in \"{text}\".");
                break;
            }
            if (open > at)
            {
                parts.Add(text[at..open]);
            }
            parts.Add(TemplateExpression.Parse(text[(open + 2)..close].Trim(), errors, where));
            at = close + 2;
        }
        return new StringTemplate([.. parts]);
    }

    /// <summary>
    /// Renders for a URL path: every value becomes exactly one escaped segment, so none can add a segment or a
    /// query. Null when a value is missing, or is '.' or '..' — no escaping survives URI normalisation for those.
    /// </summary>
    public string? RenderPath(CompositionScope scope)
    {
        foreach (var expression in Expressions)
        {
            if (scope.Resolve(expression) is { } value && CompositionScope.AsText(value) is "." or "..")
            {
                return null;
            }
        }
        return Render(scope, Uri.EscapeDataString);
    }

    /// <summary>Renders for a query value or a header; null when a reference has no value.</summary>
    public string? RenderText(CompositionScope scope, bool forHeader = false) =>
        Render(scope, forHeader ? StripControl : static v => v);

    private string? Render(CompositionScope scope, Func<string, string> encode)
    {
        var builder = new StringBuilder();
        foreach (var part in _parts)
        {
            if (part is string literal)
            {
                builder.Append(literal);
            }
            else if (scope.Resolve((TemplateExpression)part) is { } value)
            {
                builder.Append(encode(CompositionScope.AsText(value)));
            }
            else
            {
                return null;
            }
        }
        return builder.ToString();
    }

    private static readonly SearchValues<char> Control = SearchValues.Create("\r\n\0");

    private static string StripControl(string value) => value.AsSpan().ContainsAny(Control) ? string.Concat(value.Split(['\r', '\n', '\0'])) : value;
}

/// <summary>
/// A JSON value whose string leaves may hold references. A leaf that is exactly one reference is replaced by
/// the referenced JSON value; other leaves stay strings. Values are written as values, never spliced into
/// JSON text, so nothing a client sends can change the structure.
/// </summary>
internal sealed class JsonTemplate
{
    private readonly JsonElement _template;
    private readonly Dictionary<string, StringTemplate> _strings;

    private JsonTemplate(JsonElement template, Dictionary<string, StringTemplate> strings)
    {
        _template = template;
        _strings = strings;
    }

    public IEnumerable<TemplateExpression> Expressions => _strings.Values.SelectMany(s => s.Expressions);

    public static JsonTemplate Parse(JsonElement template, ICollection<string> errors, string where)
    {
        var strings = new Dictionary<string, StringTemplate>(StringComparer.Ordinal);
        Collect(template, strings, errors, where);
        return new JsonTemplate(template.Clone(), strings);
    }

    private static void Collect(JsonElement element, Dictionary<string, StringTemplate> strings, ICollection<string> errors, string where)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in element.EnumerateObject())
                {
                    Collect(p.Value, strings, errors, where);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, strings, errors, where);
                }
                break;
            case JsonValueKind.String when element.GetString() is { } text && text.Contains("{{", StringComparison.Ordinal):
                strings.TryAdd(text, StringTemplate.Parse(text, errors, where));
                break;
        }
    }

    public byte[] Render(CompositionScope scope)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, _template, scope);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private void Write(Utf8JsonWriter writer, JsonElement element, CompositionScope scope)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var p in element.EnumerateObject())
                {
                    writer.WritePropertyName(p.Name);
                    Write(writer, p.Value, scope);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item, scope);
                }
                writer.WriteEndArray();
                break;
            case JsonValueKind.String when _strings.TryGetValue(element.GetString()!, out var template):
                if (template.Single is { } single)
                {
                    CompositionScope.WriteValue(writer, scope.Resolve(single));
                }
                else if (template.RenderText(scope) is { } text)
                {
                    writer.WriteStringValue(text);
                }
                else
                {
                    writer.WriteNullValue();
                }
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}

internal static class TemplateText
{
    public static string Invariant(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "",
        _ => value.GetRawText(),
    };

    public static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Portico.Gateway.Composition;

/// <summary>What one step answered.</summary>
internal sealed record StepResult(int Status, IReadOnlyDictionary<string, string> Headers, JsonElement? Json, string Text);

/// <summary>What templates of one composition run can read: the incoming request, the caller, and finished steps.</summary>
internal sealed class CompositionScope(HttpContext context, JsonElement? requestBody)
{
    private readonly ConcurrentDictionary<string, StepResult> _steps = new(StringComparer.OrdinalIgnoreCase);

    public HttpContext Context { get; } = context;

    public void Complete(string step, StepResult result) => _steps[step] = result;

    public bool TryGetStep(string step, out StepResult result) => _steps.TryGetValue(step, out result!);

    /// <summary>A <see cref="JsonElement"/>, a string, or null when the reference has no value (and no default).</summary>
    public object? Resolve(TemplateExpression e) => Lookup(e) ?? e.Default;

    private object? Lookup(TemplateExpression e) => e.Root switch
    {
        "request" => e.Path[0] switch
        {
            "body" => Walk(requestBody, e.Path.AsSpan(1)),
            "route" => Context.Request.RouteValues.TryGetValue(e.Path[1], out var v) ? v?.ToString() : null,
            "query" => Context.Request.Query.TryGetValue(e.Path[1], out var q) ? q.ToString() : null,
            _ => Context.Request.Headers.TryGetValue(e.Path[1], out var h) ? h.ToString() : null,
        },
        "user" => Context.User.FindFirstValue(e.Path[0]),
        "steps" when _steps.TryGetValue(e.Step!, out var step) => e.Path[0] switch
        {
            "status" => TemplateText.Invariant(step.Status),
            "headers" => step.Headers.GetValueOrDefault(e.Path[1]),
            _ => step.Json is { } json ? Walk(json, e.Path.AsSpan(1)) : step.Text,
        },
        _ => null,
    };

    public static string AsText(object value) => value is JsonElement json ? TemplateText.Invariant(json) : (string)value;

    public static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case JsonElement json:
                json.WriteTo(writer);
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    private static object? Walk(JsonElement? start, ReadOnlySpan<string> path)
    {
        if (start is not { } current)
        {
            return null;
        }
        foreach (var segment in path)
        {
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(segment, out var property))
            {
                current = property;
            }
            else if (current.ValueKind == JsonValueKind.Array && int.TryParse(segment, out var index) && index >= 0 && index < current.GetArrayLength())
            {
                current = current[index];
            }
            else
            {
                return null;
            }
        }
        return current;
    }
}

using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Portico.Gateway.Security;

namespace Portico.Gateway.Composition;

/// <summary>What one step answered.</summary>
internal sealed record StepResult(int Status, IReadOnlyDictionary<string, string> Headers, JsonElement? Json, string Text)
{
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteNumber("status", Status);
        writer.WriteStartObject("headers");
        foreach (var (name, value) in Headers)
        {
            writer.WriteString(name, value);
        }
        writer.WriteEndObject();
        if (Json is { } json)
        {
            writer.WritePropertyName("json");
            json.WriteTo(writer);
        }
        else
        {
            writer.WriteString("text", Text);
        }
        writer.WriteEndObject();
    }

    public static StepResult Read(JsonElement element)
    {
        var headers = element.GetProperty("headers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.OrdinalIgnoreCase);
        if (element.TryGetProperty("json", out var json))
        {
            return new StepResult(element.GetProperty("status").GetInt32(), headers, json.Clone(), json.GetRawText());
        }
        return new StepResult(element.GetProperty("status").GetInt32(), headers, null, element.GetProperty("text").GetString() ?? "");
    }
}

/// <summary>
/// The part of the incoming request a composition's templates read — the body, the route, query and header values
/// and the caller's claims they name, the caller's token for steps that call as the caller, who the validated caller
/// is for every step (<see cref="IdentityForwarding"/>) — captured once, so a durable composition can keep it in its
/// saga log and be finished by another instance after this one is gone, still telling services who the caller was.
/// </summary>
internal sealed class CompositionInput
{
    private static readonly Dictionary<string, string> Empty = [];

    public JsonElement? Body { get; init; }
    public IReadOnlyDictionary<string, string> Route { get; init; } = Empty;
    public IReadOnlyDictionary<string, string> Query { get; init; } = Empty;
    public IReadOnlyDictionary<string, string> Headers { get; init; } = Empty;
    public IReadOnlyDictionary<string, string> Claims { get; init; } = Empty;
    public string? Authorization { get; init; }
    public bool SignedIn { get; init; }
    public ForwardedIdentity? Identity { get; init; }
    public string RequestId { get; init; } = "";

    public static CompositionInput Capture(HttpContext context, CompositionPlan plan, JsonElement? body)
    {
        var route = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var query = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var claims = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in plan.Expressions)
        {
            switch (e.Root, e.Path[0])
            {
                case ("request", "route") when context.Request.RouteValues.TryGetValue(e.Path[1], out var v) && v?.ToString() is { } text:
                    route[e.Path[1]] = text;
                    break;
                case ("request", "query") when context.Request.Query.TryGetValue(e.Path[1], out var q):
                    query[e.Path[1]] = q.ToString();
                    break;
                case ("request", "headers") when context.Request.Headers.TryGetValue(e.Path[1], out var h):
                    headers[e.Path[1]] = h.ToString();
                    break;
                case ("user", _) when context.User.FindFirstValue(e.Path[0]) is { } claim:
                    claims[e.Path[0]] = claim;
                    break;
            }
        }
        // A step's "When": "query:q" reads q even where no template does.
        foreach (var parameter in plan.Steps.Select(s => s.RequiredQuery).OfType<string>())
        {
            if (context.Request.Query.TryGetValue(parameter, out var value))
            {
                query[parameter] = value.ToString();
            }
        }
        var authorization = context.Request.Headers.Authorization;
        return new CompositionInput
        {
            Body = body,
            Route = route,
            Query = query,
            Headers = headers,
            Claims = claims,
            Authorization = authorization.Count > 0 ? authorization.ToString() : null,
            SignedIn = context.User.Identity?.IsAuthenticated == true,
            Identity = IdentityForwarding.Of(context.User),
            RequestId = context.TraceIdentifier,
        };
    }

    public byte[] Serialize()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (Body is { } body)
            {
                writer.WritePropertyName("body");
                body.WriteTo(writer);
            }
            Write(writer, "route", Route);
            Write(writer, "query", Query);
            Write(writer, "headers", Headers);
            Write(writer, "claims", Claims);
            if (Authorization is not null)
            {
                writer.WriteString("authorization", Authorization);
            }
            writer.WriteBoolean("signedIn", SignedIn);
            if (Identity is { } identity)
            {
                writer.WriteString("userId", identity.UserId);
                if (identity.Roles is { } roles)
                {
                    writer.WriteString("userRoles", roles);
                }
            }
            writer.WriteString("requestId", RequestId);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static CompositionInput Deserialize(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        return new CompositionInput
        {
            Body = root.TryGetProperty("body", out var body) ? body.Clone() : null,
            Route = Read(root, "route"),
            Query = Read(root, "query"),
            Headers = Read(root, "headers"),
            Claims = Read(root, "claims"),
            Authorization = root.TryGetProperty("authorization", out var a) ? a.GetString() : null,
            SignedIn = root.GetProperty("signedIn").GetBoolean(),
            // A run logged before identities were kept has none: its steps say no caller, never a made-up one.
            Identity = root.TryGetProperty("userId", out var user) && user.GetString() is { Length: > 0 } id
                ? new ForwardedIdentity(id, root.TryGetProperty("userRoles", out var roles) ? roles.GetString() : null)
                : null,
            RequestId = root.GetProperty("requestId").GetString() ?? "",
        };
    }

    private static void Write(Utf8JsonWriter writer, string name, IReadOnlyDictionary<string, string> values)
    {
        writer.WriteStartObject(name);
        foreach (var (key, value) in values)
        {
            writer.WriteString(key, value);
        }
        writer.WriteEndObject();
    }

    private static Dictionary<string, string> Read(JsonElement root, string name) =>
        root.GetProperty(name).EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "",
            name == "claims" ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// What templates of one composition run can read: the captured request, the caller, and finished steps.
/// <see cref="Context"/> is the request being answered, or a blank one when a saga is finished without it.
/// </summary>
internal sealed class CompositionScope(HttpContext context, CompositionInput input)
{
    private readonly ConcurrentDictionary<string, StepResult> _steps = new(StringComparer.OrdinalIgnoreCase);

    public HttpContext Context { get; } = context;

    public CompositionInput Input { get; } = input;

    public void Complete(string step, StepResult result) => _steps[step] = result;

    public bool TryGetStep(string step, out StepResult result) => _steps.TryGetValue(step, out result!);

    /// <summary>A <see cref="JsonElement"/>, a string, or null when the reference has no value (and no default).</summary>
    public object? Resolve(TemplateExpression e) => Lookup(e) ?? e.Default;

    private object? Lookup(TemplateExpression e) => e.Root switch
    {
        "request" => e.Path[0] switch
        {
            "body" => Walk(Input.Body, e.Path.AsSpan(1)),
            "route" => Input.Route.GetValueOrDefault(e.Path[1]),
            "query" => Input.Query.GetValueOrDefault(e.Path[1]),
            _ => Input.Headers.GetValueOrDefault(e.Path[1]),
        },
        "user" => Input.Claims.GetValueOrDefault(e.Path[0]),
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

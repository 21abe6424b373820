using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Portico.Gateway.Composition;

/// <summary>
/// What a composition run answers, as data, so that a durable composition can keep it and give it again to every
/// retry with the same key. <see cref="Settled"/> is false for "pending": the outcome is not known yet, and nothing
/// is kept. <see cref="Outcome"/> names it for metrics and logs.
/// </summary>
internal sealed record CompositionAnswer(int Status, string ContentType, IReadOnlyDictionary<string, string> Headers, byte[] Body, string Outcome)
{
    /// <summary>Set on an answer that repeats the settled outcome of an earlier request with the same key.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";

    public const string PendingOutcome = "pending";

    public bool Settled => Outcome != PendingOutcome;

    public async Task WriteAsync(HttpContext context, bool replayed = false)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        context.Response.StatusCode = Status;
        context.Response.ContentType = ContentType;
        context.Response.ContentLength = Body.Length;
        foreach (var (name, value) in Headers)
        {
            context.Response.Headers[name] = value;
        }
        if (replayed)
        {
            context.Response.Headers[ReplayedHeader] = "true";
        }
        try
        {
            await context.Response.Body.WriteAsync(Body, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; a durable composition has kept the answer for its retry.
        }
    }

    public byte[] Serialize()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("status", Status);
            writer.WriteString("contentType", ContentType);
            writer.WriteString("outcome", Outcome);
            writer.WriteStartObject("headers");
            foreach (var (name, value) in Headers)
            {
                writer.WriteString(name, value);
            }
            writer.WriteEndObject();
            writer.WriteString("body", Encoding.UTF8.GetString(Body));
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static CompositionAnswer Deserialize(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new CompositionAnswer(
            root.GetProperty("status").GetInt32(),
            root.GetProperty("contentType").GetString()!,
            root.GetProperty("headers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.OrdinalIgnoreCase),
            Encoding.UTF8.GetBytes(root.GetProperty("body").GetString()!),
            root.GetProperty("outcome").GetString()!);
    }
}

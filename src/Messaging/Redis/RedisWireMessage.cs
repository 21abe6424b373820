using System.Text;
using System.Text.Json;
using Portico.Messaging.Transport;

namespace Portico.Messaging.Redis;

/// <summary>
/// A message as one Redis list element: the envelope, the body as JSON text, and for a dead letter its error. The
/// envelope's id and attempt make every element unique, which is what <c>LREM</c> of one delivery relies on.
/// </summary>
internal sealed record RedisWireMessage(MessageEnvelope Envelope, string Body, string? Error = null, DateTimeOffset? DeadLetteredAt = null)
{
    public static string Serialize(TransportMessage message, string? error = null, DateTimeOffset? deadLetteredAt = null) =>
        JsonSerializer.Serialize(new RedisWireMessage(message.Envelope, Encoding.UTF8.GetString(message.Body.Span), error, deadLetteredAt), MessagingJsonContext.Default.RedisWireMessage);

    public static RedisWireMessage? TryParse(string raw)
    {
        try
        {
            return JsonSerializer.Deserialize(raw, MessagingJsonContext.Default.RedisWireMessage);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public TransportMessage ToTransportMessage() => new(Envelope, Encoding.UTF8.GetBytes(Body));
}

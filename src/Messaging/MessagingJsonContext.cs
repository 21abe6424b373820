using System.Text.Json.Serialization;

namespace Portico.Messaging;

/// <summary>Source-generated JSON of what the transports store beside a body.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MessageEnvelope))]
[JsonSerializable(typeof(Redis.RedisWireMessage))]
internal sealed partial class MessagingJsonContext : JsonSerializerContext;

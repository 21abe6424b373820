using System.Text.Json;
using System.Text.Json.Serialization;

namespace Portico.Contracts.Events;

/// <summary>Source-generated JSON of the job messages, camelCase on the wire; unknown fields are ignored.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(JobRequested))]
[JsonSerializable(typeof(JobHeartbeat))]
[JsonSerializable(typeof(JobCompleted))]
public sealed partial class JobsJsonContext : JsonSerializerContext;

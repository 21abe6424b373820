using System.Text.Json.Nodes;
using Google.Protobuf.Reflection;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.OpenApi;

/// <summary>
/// JSON Schemas (2020-12, as OpenAPI 3.1 has them) of protobuf messages in their proto3 JSON form, the form the
/// gateway's transcoding codec reads and writes: lowerCamel (or <c>json_name</c>) property names; 64-bit integers as
/// decimal strings; enums by name; bytes as base64; maps as objects; the well-known types in their special forms.
/// Each message and enum is one component named by its full name (<c>loyalty.v1.Balance</c>), so a recursive message
/// is a <c>$ref</c> to itself. The schemas describe what the codec writes; its reader is more lenient (numbers for
/// 64-bit fields, enum numbers, proto field names), as the proto3 JSON mapping asks of parsers.
/// </summary>
internal sealed class ProtoJsonSchemas(JsonObject components)
{
    private const string Prefix = "#/components/schemas/";

    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);

    /// <summary>The schema of a message where it is used: a reference, or the special form of a well-known type.</summary>
    public JsonObject Message(MessageDescriptor type)
    {
        switch (GrpcJsonType.For(type).Kind)
        {
            case WellKnownType.Timestamp:
                return new JsonObject { ["type"] = "string", ["format"] = "date-time", ["description"] = "RFC 3339 in UTC (google.protobuf.Timestamp), e.g. 2026-01-31T09:30:00Z." };
            case WellKnownType.Duration:
                // JSON Schema's "duration" format is ISO 8601 (P1D), not this form, so a pattern says it instead.
                return new JsonObject { ["type"] = "string", ["pattern"] = @"^-?[0-9]+(\.[0-9]{1,9})?s$", ["description"] = "Seconds with up to 9 decimals and an 's' (google.protobuf.Duration), e.g. 1.5s." };
            case WellKnownType.Wrapper:
                var value = Singular(type.FindFieldByNumber(1));
                if (value["type"] is JsonValue scalar)
                {
                    value["type"] = new JsonArray(scalar.GetValue<string>(), "null");
                }
                else if (value["anyOf"] is JsonArray number)
                {
                    number.Add(new JsonObject { ["type"] = "null" });
                }
                value["description"] = $"{type.Name}: the value, or null for none.";
                return value;
            case WellKnownType.Struct:
                return new JsonObject { ["type"] = "object", ["description"] = "Any JSON object (google.protobuf.Struct)." };
            case WellKnownType.Value:
                return new JsonObject { ["description"] = "Any JSON value (google.protobuf.Value)." };
            case WellKnownType.ListValue:
                return new JsonObject { ["type"] = "array", ["description"] = "Any JSON array (google.protobuf.ListValue)." };
            case WellKnownType.FieldMask:
                return new JsonObject { ["type"] = "string", ["description"] = "Field paths in lowerCamel, comma-separated (google.protobuf.FieldMask), e.g. name,shelf.id." };
            case WellKnownType.Any:
                return new JsonObject
                {
                    ["type"] = "object",
                    ["required"] = new JsonArray("@type"),
                    ["properties"] = new JsonObject { ["@type"] = new JsonObject { ["type"] = "string", ["description"] = "The type URL, e.g. type.googleapis.com/package.Message." } },
                    ["description"] = "A message of any type (google.protobuf.Any): its JSON with @type, or its special JSON under value for a well-known type.",
                };
        }
        return Reference(type.FullName, name => Define(name, type));
    }

    /// <summary>The schema of a field as a JSON property: a map is an object, a repeated field an array.</summary>
    public JsonObject Field(FieldDescriptor field)
    {
        JsonObject schema;
        if (field.IsMap)
        {
            var key = field.MessageType.FindFieldByNumber(1);
            schema = new JsonObject { ["type"] = "object", ["additionalProperties"] = Singular(field.MessageType.FindFieldByNumber(2)) };
            if (KeyPattern(key.FieldType) is { } pattern)
            {
                schema["propertyNames"] = pattern;
            }
        }
        else if (field.IsRepeated)
        {
            schema = new JsonObject { ["type"] = "array", ["items"] = Singular(field) };
        }
        else
        {
            schema = Singular(field);
        }
        if (field.GetOptions()?.Deprecated == true)
        {
            schema["deprecated"] = true;
        }
        if (Comment(field.Declaration) is { } comment)
        {
            schema["description"] = comment;
        }
        return schema;
    }

    /// <summary>One value of a field (an element of a repeated field, a map's value).</summary>
    public JsonObject Singular(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Double => Number("double"),
        FieldType.Float => Number("float"),
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => new JsonObject { ["type"] = "integer", ["format"] = "int32" },
        FieldType.UInt32 or FieldType.Fixed32 => new JsonObject { ["type"] = "integer", ["format"] = "uint32", ["minimum"] = 0, ["maximum"] = uint.MaxValue },
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => new JsonObject { ["type"] = "string", ["format"] = "int64", ["pattern"] = "^-?[0-9]+$" },
        FieldType.UInt64 or FieldType.Fixed64 => new JsonObject { ["type"] = "string", ["format"] = "uint64", ["pattern"] = "^[0-9]+$" },
        FieldType.Bool => new JsonObject { ["type"] = "boolean" },
        FieldType.String => new JsonObject { ["type"] = "string" },
        FieldType.Bytes => new JsonObject { ["type"] = "string", ["format"] = "byte", ["contentEncoding"] = "base64" },
        FieldType.Enum => Enum(field.EnumType),
        _ => Message(field.MessageType),
    };

    /// <summary>The schema of a path or query value that sets <paramref name="field"/>: the field's own, as text it is parsed from.</summary>
    public JsonObject Text(FieldDescriptor field)
    {
        var schema = Singular(field);
        return field.IsRepeated ? new JsonObject { ["type"] = "array", ["items"] = schema } : schema;
    }

    private static JsonObject Number(string format) => new()
    {
        // The codec writes a number, or "NaN", "Infinity", "-Infinity" for those values.
        ["anyOf"] = new JsonArray(new JsonObject { ["type"] = "number" }, new JsonObject { ["type"] = "string", ["enum"] = new JsonArray("NaN", "Infinity", "-Infinity") }),
        ["format"] = format,
    };

    private JsonObject Enum(EnumDescriptor type) =>
        type.FullName == "google.protobuf.NullValue"
            ? new JsonObject { ["type"] = "null" }
            : Reference(type.FullName, name =>
            {
                var schema = new JsonObject
                {
                    ["type"] = "string",
                    ["enum"] = new JsonArray([.. type.Values.Select(v => JsonValue.Create(v.Name))]),
                };
                if (Comment(type.Declaration) is { } comment)
                {
                    schema["description"] = comment;
                }
                components[name] = schema;
            });

    private JsonObject Reference(string fullName, Action<string> define)
    {
        if (!_names.TryGetValue(fullName, out var name))
        {
            // A service's own schema of the same name keeps it; the message's is then told apart by a prefix.
            name = components.ContainsKey(fullName) ? "proto." + fullName : fullName;
            _names[fullName] = name;
            components[name] = null; // taken before the fields, so a recursive message refers to itself
            define(name);
        }
        return new JsonObject { ["$ref"] = Prefix + name };
    }

    private void Define(string name, MessageDescriptor type)
    {
        var properties = new JsonObject();
        var schema = new JsonObject { ["type"] = "object", ["properties"] = properties };
        foreach (var field in type.Fields.InFieldNumberOrder())
        {
            properties[field.JsonName] = Field(field);
        }
        if (type.FullName == "google.protobuf.Empty")
        {
            schema["additionalProperties"] = false;
        }
        // A oneof: exactly one of its fields, or none (every branch but the last names one; the last, none of them).
        var oneofs = type.Oneofs.Where(o => !o.IsSynthetic && o.Fields.Count > 1).ToList();
        if (oneofs.Count > 0)
        {
            schema["allOf"] = new JsonArray([.. oneofs.Select(o =>
            {
                var each = o.Fields.Select(f => new JsonObject { ["required"] = new JsonArray(f.JsonName) }).ToList();
                var none = new JsonObject { ["not"] = new JsonObject { ["anyOf"] = new JsonArray([.. each.Select(e => e.DeepClone())]) } };
                return (JsonNode)new JsonObject { ["oneOf"] = new JsonArray([.. each, none]), ["description"] = $"oneof {o.Name}: at most one of {string.Join(", ", o.Fields.Select(f => f.JsonName))}." };
            })]);
        }
        if (Comment(type.Declaration) is { } comment)
        {
            schema["description"] = comment;
        }
        components[name] = schema;
    }

    /// <summary>What a map's keys look like in JSON: always strings, of a number or a boolean where the key is one.</summary>
    private static JsonObject? KeyPattern(FieldType key) => key switch
    {
        FieldType.Bool => new JsonObject { ["enum"] = new JsonArray("true", "false") },
        FieldType.UInt32 or FieldType.Fixed32 or FieldType.UInt64 or FieldType.Fixed64 => new JsonObject { ["pattern"] = "^[0-9]+$" },
        FieldType.String => null,
        _ => new JsonObject { ["pattern"] = "^-?[0-9]+$" },
    };

    /// <summary>The comment before the element in its .proto, where the descriptors carry source info (reflection usually does not).</summary>
    public static string? Comment(DescriptorDeclaration? declaration) =>
        declaration?.LeadingComments is { } text && text.Trim() is { Length: > 0 } trimmed ? trimmed : null;
}

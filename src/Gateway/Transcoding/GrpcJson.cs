using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Portico.Gateway.Transcoding;

/// <summary>
/// JSON ⇄ protobuf by the proto3 JSON mapping (lowerCamelCase names, int64 as strings, enums by name). Unknown
/// fields are an error, never silently dropped, so a client learns at once that a field name is wrong.
/// </summary>
internal static class GrpcJson
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    public static string Format(IMessage message) => Formatter.Format(message);

    /// <summary>The message a JSON text describes, or the reason it does not fit the type.</summary>
    public static IMessage? TryParse(string json, MessageDescriptor type, out string? error)
    {
        try
        {
            error = null;
            return Parser.Parse(json, type);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            error = $"it does not fit {type.FullName}: {ex.Message}";
            return null;
        }
    }

    /// <summary>
    /// A JSON object setting scalar fields from text values (path variables, query parameters), typed by the
    /// field; null with a reason when a name is not a field of the message or not a scalar.
    /// </summary>
    public static string? FieldsFromText(MessageDescriptor type, IEnumerable<KeyValuePair<string, string>> values, out string? error)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in values)
            {
                var field = type.FindFieldByName(name) ?? FindByJsonName(type, name);
                if (field is null)
                {
                    error = $"'{name}' is not a field of {type.FullName}.";
                    return null;
                }
                if (field.IsRepeated || field.FieldType is FieldType.Message or FieldType.Group or FieldType.Bytes)
                {
                    error = $"'{name}' cannot be given as text.";
                    return null;
                }
                writer.WritePropertyName(field.JsonName);
                if (field.FieldType == FieldType.Bool)
                {
                    if (!bool.TryParse(value, out var flag))
                    {
                        error = $"'{name}' must be true or false.";
                        return null;
                    }
                    writer.WriteBooleanValue(flag);
                }
                else
                {
                    writer.WriteStringValue(value); // the proto3 JSON mapping accepts numbers and enums as strings
                }
            }
            writer.WriteEndObject();
        }
        error = null;
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static FieldDescriptor? FindByJsonName(MessageDescriptor type, string name)
    {
        foreach (var field in type.Fields.InDeclarationOrder())
        {
            if (field.JsonName == name)
            {
                return field;
            }
        }
        return null;
    }
}

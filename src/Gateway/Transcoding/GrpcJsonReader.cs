using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Portico.Gateway.Transcoding;

/// <summary>How the codec reads and writes: the types an <c>Any</c> may hold, and the proto3 JSON options.</summary>
internal sealed record GrpcJsonSettings
{
    public static readonly GrpcJsonSettings Default = new();

    /// <summary>The message types an <c>Any</c> may name in <c>@type</c>; none when null.</summary>
    public TypeRegistry? Types { get; init; }

    /// <summary>Skip JSON fields (and enum names) the message does not have instead of refusing them.</summary>
    public bool IgnoreUnknownFields { get; init; }

    /// <summary>Write fields without presence that hold their default value (0, "", [], {}), as Google.Protobuf's <c>WithFormatDefaultValues</c>.</summary>
    public bool FormatDefaultValues { get; init; }
}

/// <summary>
/// Proto3 JSON → protobuf wire bytes over a <see cref="MessageDescriptor"/> (no generated type needed), read in one pass
/// with <see cref="Utf8JsonReader"/> and written with <see cref="CodedOutputStream"/>: lowerCamel or proto field names,
/// 64-bit integers as numbers or strings, enums by name or number, base64 (standard or URL-safe) bytes, maps,
/// repeated fields (scalars packed), oneofs (two members set is an error), <c>NaN</c>/<c>Infinity</c>, and the
/// well-known types. Anything that does not fit throws <see cref="GrpcJsonException"/> naming the field.
/// </summary>
internal sealed class GrpcJsonReader
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    /// <summary>CodedOutputStream's own buffer per depth; small, since it is flushed into the depth's stream at each message's end.</summary>
    private const int BufferSize = 256;

    private readonly GrpcJsonSettings _settings;
    private readonly List<(MemoryStream Stream, CodedOutputStream Output)> _buffers = [];
    private readonly List<string> _path = [];
    private int _depth = -1;

    private GrpcJsonReader(GrpcJsonSettings settings) => _settings = settings;

    /// <summary>The wire bytes of the message a JSON text describes; an empty text is an empty message.</summary>
    public static byte[] ToProtobuf(ReadOnlySpan<byte> json, MessageDescriptor type, GrpcJsonSettings? settings = null)
    {
        var self = new GrpcJsonReader(settings ?? GrpcJsonSettings.Default);
        if (json.IsEmpty)
        {
            return [];
        }
        var reader = new Utf8JsonReader(json, ReaderOptions);
        try
        {
            if (!reader.Read())
            {
                return [];
            }
            var bytes = reader.TokenType == JsonTokenType.Null && GrpcJsonType.For(type).Kind != WellKnownType.Value
                ? ReadOnlyMemory<byte>.Empty
                : self.Message(ref reader, GrpcJsonType.For(type));
            if (reader.Read())
            {
                throw new GrpcJsonException("", "has content after the JSON value");
            }
            return bytes.ToArray();
        }
        catch (JsonException ex)
        {
            throw new GrpcJsonException(self.Path, "is not valid JSON: " + ex.Message);
        }
    }

    /// <summary>
    /// The wire bytes of a message whose fields are given as text (path variables, query parameters), each name a
    /// field path (<c>page.size</c>); a name given more than once fills a repeated field.
    /// </summary>
    public static byte[] FromText(MessageDescriptor type, IEnumerable<KeyValuePair<string, string>> values, GrpcJsonSettings? settings = null)
    {
        var root = new System.Text.Json.Nodes.JsonObject();
        foreach (var (name, value) in values)
        {
            var node = root;
            var message = type;
            var segments = name.Split('.');
            for (var i = 0; i < segments.Length; i++)
            {
                var field = FindField(message, segments[i]) ?? throw new GrpcJsonException(name, $"is not a field of {message.FullName}");
                if (i < segments.Length - 1)
                {
                    if (field.FieldType != FieldType.Message || field.IsRepeated || GrpcJsonType.For(field.MessageType).Kind != WellKnownType.None)
                    {
                        throw new GrpcJsonException(name, $"does not name a message field at '{segments[i]}'");
                    }
                    node = node[field.JsonName] as System.Text.Json.Nodes.JsonObject ?? (System.Text.Json.Nodes.JsonObject)(node[field.JsonName] = new System.Text.Json.Nodes.JsonObject());
                    message = field.MessageType;
                    continue;
                }
                if (field.IsMap || (field.FieldType == FieldType.Message && GrpcJsonType.For(field.MessageType).Kind is WellKnownType.None or WellKnownType.Struct or WellKnownType.ListValue or WellKnownType.Any))
                {
                    throw new GrpcJsonException(name, "cannot be given as text");
                }
                System.Text.Json.Nodes.JsonNode item = IsBool(field) && bool.TryParse(value, out var flag) ? flag : value;
                if (field.IsRepeated)
                {
                    var array = node[field.JsonName] as System.Text.Json.Nodes.JsonArray ?? (System.Text.Json.Nodes.JsonArray)(node[field.JsonName] = new System.Text.Json.Nodes.JsonArray());
                    array.Add(item);
                }
                else if (node.ContainsKey(field.JsonName))
                {
                    throw new GrpcJsonException(name, "must be given once");
                }
                else
                {
                    node[field.JsonName] = item;
                }
            }
        }
        return ToProtobuf(JsonSerializer.SerializeToUtf8Bytes(root), type, settings);

        static bool IsBool(FieldDescriptor f) => f.FieldType == FieldType.Bool || (f.FieldType == FieldType.Message && f.MessageType.FullName == "google.protobuf.BoolValue");
    }

    /// <summary>A field by proto name or JSON name.</summary>
    public static FieldDescriptor? FindField(MessageDescriptor type, string name)
    {
        var info = GrpcJsonType.For(type);
        return info.ByName.TryGetValue(name, out var index) ? info.Fields[index] : null;
    }

    private string Path
    {
        get
        {
            var text = new StringBuilder();
            foreach (var segment in _path)
            {
                if (text.Length > 0 && segment[0] != '[')
                {
                    text.Append('.');
                }
                text.Append(segment);
            }
            return text.ToString();
        }
    }

    private GrpcJsonException Error(string message) => new(Path, message);

    /// <summary>Encodes the message at the reader's token into the buffer of the next depth; the bytes stay valid until that depth is used again.</summary>
    private ReadOnlyMemory<byte> Message(ref Utf8JsonReader reader, GrpcJsonType type, bool skipAnyType = false)
    {
        _depth++;
        if (_depth >= 64)
        {
            throw Error("nests too deeply");
        }
        var (buffer, output) = Buffer();
        buffer.SetLength(0);
        try
        {
            WriteMessage(ref reader, type, output, skipAnyType);
            output.Flush();
            return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        }
        finally
        {
            _depth--;
        }
    }

    /// <summary>
    /// The buffer of the current depth, where a nested message (or a packed run, a map entry) is written before it is
    /// copied into its parent with its length: protobuf puts the length first. Reused for every message at that depth.
    /// </summary>
    private (MemoryStream Stream, CodedOutputStream Output) Buffer()
    {
        if (_buffers.Count <= _depth)
        {
            var stream = new MemoryStream();
            _buffers.Add((stream, new CodedOutputStream(stream, BufferSize, leaveOpen: true)));
        }
        return _buffers[_depth];
    }

    private static void WriteBytesField(CodedOutputStream output, int number, ReadOnlyMemory<byte> bytes)
    {
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(UnsafeByteOperations.UnsafeWrap(bytes));
    }

    private void WriteMessage(ref Utf8JsonReader reader, GrpcJsonType type, CodedOutputStream output, bool skipAnyType)
    {
        switch (type.Kind)
        {
            case WellKnownType.Timestamp:
            case WellKnownType.Duration:
                {
                    var text = reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw Error($"must be a {type.Descriptor.Name} string, not {Describe(reader.TokenType)}");
                    long seconds;
                    int nanos;
                    var ok = type.Kind == WellKnownType.Timestamp
                        ? GrpcJsonTime.TryParseTimestamp(text, out seconds, out nanos)
                        : GrpcJsonTime.TryParseDuration(text, out seconds, out nanos);
                    if (!ok)
                    {
                        throw Error(type.Kind == WellKnownType.Timestamp
                            ? $"must be an RFC 3339 timestamp between 0001-01-01 and 9999-12-31, not '{text}'"
                            : $"must be a duration such as \"1.5s\" within ±{GrpcJsonTime.MaxDurationSeconds}s, not '{text}'");
                    }
                    WriteNonZero(output, 1, seconds);
                    if (nanos != 0)
                    {
                        output.WriteTag(2, WireFormat.WireType.Varint);
                        output.WriteInt32(nanos);
                    }
                    return;
                }
            case WellKnownType.Wrapper:
                {
                    var field = type.Fields[0];
                    WriteSingular(ref reader, field, output, implicitPresence: true);
                    return;
                }
            case WellKnownType.Struct:
                ExpectToken(ref reader, JsonTokenType.StartObject, "an object");
                WriteStructFields(ref reader, output);
                return;
            case WellKnownType.ListValue:
                ExpectToken(ref reader, JsonTokenType.StartArray, "an array");
                WriteListValues(ref reader, output);
                return;
            case WellKnownType.Value:
                WriteValue(ref reader, output);
                return;
            case WellKnownType.FieldMask:
                {
                    var text = reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw Error("must be a FieldMask string such as \"a,b.c\"");
                    foreach (var path in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
                    {
                        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
                        output.WriteString(ToSnakeCase(path));
                    }
                    return;
                }
            case WellKnownType.Any:
                WriteAny(ref reader, output);
                return;
        }

        ExpectToken(ref reader, JsonTokenType.StartObject, "an object");
        Span<bool> seen = type.Fields.Length <= 256 ? stackalloc bool[type.Fields.Length] : new bool[type.Fields.Length];
        var oneofs = type.Oneofs.Length == 0 ? null : new FieldDescriptor?[type.Oneofs.Length];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (skipAnyType && reader.ValueTextEquals("@type"u8))
            {
                reader.Read();
                continue;
            }
            var name = reader.GetString()!;
            if (!type.ByName.TryGetValue(name, out var index))
            {
                if (!_settings.IgnoreUnknownFields)
                {
                    _path.Add(name);
                    throw Error($"is not a field of {type.Descriptor.FullName}");
                }
                reader.Read();
                reader.Skip();
                continue;
            }
            var field = type.Fields[index];
            _path.Add(field.JsonName);
            if (seen[index])
            {
                throw Error("must be given once");
            }
            seen[index] = true;
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null && !AcceptsNull(field))
            {
                _path.RemoveAt(_path.Count - 1);
                continue; // null means the default: nothing on the wire
            }
            if (field.RealContainingOneof is { } oneof)
            {
                var slot = Array.IndexOf(type.Oneofs, oneof);
                if (oneofs![slot] is { } other)
                {
                    throw Error($"cannot be set with '{other.JsonName}': oneof '{oneof.Name}' takes one member");
                }
                oneofs[slot] = field;
            }
            if (field.IsMap)
            {
                WriteMap(ref reader, field, output);
            }
            else if (field.IsRepeated)
            {
                WriteRepeated(ref reader, field, output);
            }
            else
            {
                WriteSingular(ref reader, field, output, implicitPresence: !field.HasPresence);
            }
            _path.RemoveAt(_path.Count - 1);
        }
    }

    /// <summary>A JSON null sets these (google.protobuf.Value's null, the NullValue enum); any other field takes null as "not set".</summary>
    private static bool AcceptsNull(FieldDescriptor field) => !field.IsRepeated && (
        (field.FieldType == FieldType.Message && field.MessageType.FullName == "google.protobuf.Value")
        || (field.FieldType == FieldType.Enum && field.EnumType.FullName == "google.protobuf.NullValue"));

    private void ExpectToken(ref Utf8JsonReader reader, JsonTokenType token, string what)
    {
        if (reader.TokenType != token)
        {
            throw Error($"must be {what}, not {Describe(reader.TokenType)}");
        }
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    /// <summary>One value of a singular field, with its tag; a default value of a field without presence is left off the wire.</summary>
    private void WriteSingular(ref Utf8JsonReader reader, FieldDescriptor field, CodedOutputStream output, bool implicitPresence)
    {
        if (field.FieldType is FieldType.Message or FieldType.Group)
        {
            WriteBytesField(output, field.FieldNumber, Message(ref reader, GrpcJsonType.For(field.MessageType)));
            return;
        }
        if (field.FieldType is FieldType.String)
        {
            var text = reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw Error($"must be a string, not {Describe(reader.TokenType)}");
            if (!implicitPresence || text.Length > 0)
            {
                output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                output.WriteString(text);
            }
            return;
        }
        if (field.FieldType is FieldType.Bytes)
        {
            var bytes = ReadBytes(ref reader);
            if (!implicitPresence || bytes.Length > 0)
            {
                WriteBytesField(output, field.FieldNumber, bytes);
            }
            return;
        }
        if (!TryReadScalar(ref reader, field, out var bits))
        {
            return; // an unknown enum name, skipped as the settings allow
        }
        if (!implicitPresence || bits != 0)
        {
            output.WriteTag(field.FieldNumber, WireTypeOf(field.FieldType));
            WriteScalar(output, field.FieldType, bits);
        }
    }

    private void WriteRepeated(ref Utf8JsonReader reader, FieldDescriptor field, CodedOutputStream output)
    {
        ExpectToken(ref reader, JsonTokenType.StartArray, "an array");
        var packed = field.FieldType is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);
        CodedOutputStream? elements = null;
        MemoryStream? buffer = null;
        if (packed)
        {
            _depth++;
            (buffer, elements) = Buffer();
            buffer.SetLength(0);
        }
        try
        {
            var index = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                _path.Add($"[{index++}]");
                if (reader.TokenType == JsonTokenType.Null && !(field.FieldType == FieldType.Message && field.MessageType.FullName == "google.protobuf.Value"))
                {
                    throw Error("cannot be null (an element of a repeated field)");
                }
                if (!packed)
                {
                    WriteSingular(ref reader, field, output, implicitPresence: false);
                }
                else if (TryReadScalar(ref reader, field, out var bits))
                {
                    WriteScalar(elements!, field.FieldType, bits);
                }
                _path.RemoveAt(_path.Count - 1);
            }
            if (packed)
            {
                elements!.Flush();
                if (buffer!.Length > 0)
                {
                    WriteBytesField(output, field.FieldNumber, buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
                }
            }
        }
        finally
        {
            if (packed)
            {
                _depth--;
            }
        }
    }

    private void WriteMap(ref Utf8JsonReader reader, FieldDescriptor field, CodedOutputStream output)
    {
        ExpectToken(ref reader, JsonTokenType.StartObject, "an object");
        var keyField = field.MessageType.FindFieldByNumber(1);
        var valueField = field.MessageType.FindFieldByNumber(2);
        _depth++;
        var (buffer, entry) = Buffer();
        try
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var key = reader.GetString()!;
                _path.Add($"[\"{key}\"]");
                buffer.SetLength(0);
                WriteMapKey(entry, keyField, key);
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null && !AcceptsNull(valueField))
                {
                    throw Error("cannot be null (a map value)");
                }
                WriteSingular(ref reader, valueField, entry, implicitPresence: false);
                entry.Flush();
                WriteBytesField(output, field.FieldNumber, buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
                _path.RemoveAt(_path.Count - 1);
            }
        }
        finally
        {
            _depth--;
        }
    }

    private void WriteMapKey(CodedOutputStream entry, FieldDescriptor keyField, string key)
    {
        ulong bits;
        switch (keyField.FieldType)
        {
            case FieldType.String:
                entry.WriteTag(1, WireFormat.WireType.LengthDelimited);
                entry.WriteString(key);
                return;
            case FieldType.Bool:
                bits = key switch
                {
                    "true" => 1,
                    "false" => 0,
                    _ => throw Error("must be \"true\" or \"false\" (a bool map key)"),
                };
                break;
            default:
                bits = ParseIntegerText(key, keyField.FieldType);
                break;
        }
        entry.WriteTag(1, WireTypeOf(keyField.FieldType));
        WriteScalar(entry, keyField.FieldType, bits);
    }

    private void WriteStructFields(ref Utf8JsonReader reader, CodedOutputStream output)
    {
        _depth++;
        var (buffer, entry) = Buffer();
        try
        {
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var key = reader.GetString()!;
                _path.Add(key);
                buffer.SetLength(0);
                entry.WriteTag(1, WireFormat.WireType.LengthDelimited);
                entry.WriteString(key);
                reader.Read();
                WriteBytesField(entry, 2, ValueMessage(ref reader));
                entry.Flush();
                WriteBytesField(output, 1, buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
                _path.RemoveAt(_path.Count - 1);
            }
        }
        finally
        {
            _depth--;
        }
    }

    private void WriteListValues(ref Utf8JsonReader reader, CodedOutputStream output)
    {
        var index = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            _path.Add($"[{index++}]");
            WriteBytesField(output, 1, ValueMessage(ref reader));
            _path.RemoveAt(_path.Count - 1);
        }
    }

    private ReadOnlyMemory<byte> ValueMessage(ref Utf8JsonReader reader)
    {
        _depth++;
        var (buffer, output) = Buffer();
        buffer.SetLength(0);
        try
        {
            WriteValue(ref reader, output);
            output.Flush();
            return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        }
        finally
        {
            _depth--;
        }
    }

    /// <summary>google.protobuf.Value: whichever JSON value it is (its kind oneof: null 1, number 2, string 3, bool 4, struct 5, list 6).</summary>
    private void WriteValue(ref Utf8JsonReader reader, CodedOutputStream output)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                output.WriteTag(1, WireFormat.WireType.Varint);
                output.WriteEnum(0);
                break;
            case JsonTokenType.Number:
                output.WriteTag(2, WireFormat.WireType.Fixed64);
                output.WriteDouble(reader.TryGetDouble(out var number) ? number : throw Error("is out of range"));
                break;
            case JsonTokenType.String:
                output.WriteTag(3, WireFormat.WireType.LengthDelimited);
                output.WriteString(reader.GetString()!);
                break;
            case JsonTokenType.True or JsonTokenType.False:
                output.WriteTag(4, WireFormat.WireType.Varint);
                output.WriteBool(reader.TokenType == JsonTokenType.True);
                break;
            case JsonTokenType.StartObject:
                {
                    _depth++;
                    var (buffer, inner) = Buffer();
                    buffer.SetLength(0);
                    try
                    {
                        WriteStructFields(ref reader, inner);
                        inner.Flush();
                        WriteBytesField(output, 5, buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
                    }
                    finally
                    {
                        _depth--;
                    }
                    break;
                }
            case JsonTokenType.StartArray:
                {
                    _depth++;
                    var (buffer, inner) = Buffer();
                    buffer.SetLength(0);
                    try
                    {
                        WriteListValues(ref reader, inner);
                        inner.Flush();
                        WriteBytesField(output, 6, buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
                    }
                    finally
                    {
                        _depth--;
                    }
                    break;
                }
            default:
                throw Error($"must not be {Describe(reader.TokenType)}");
        }
    }

    /// <summary>
    /// google.protobuf.Any: <c>{"@type": "type.googleapis.com/pkg.Msg", …fields}</c>, or <c>"value"</c> holding the
    /// JSON of a well-known type. <c>@type</c> may come anywhere in the object, so a copy of the reader looks for it first.
    /// </summary>
    private void WriteAny(ref Utf8JsonReader reader, CodedOutputStream output)
    {
        ExpectToken(ref reader, JsonTokenType.StartObject, "an object");
        var scan = reader;
        string? typeUrl = null;
        var empty = true;
        while (scan.Read() && scan.TokenType == JsonTokenType.PropertyName)
        {
            empty = false;
            var isType = scan.ValueTextEquals("@type"u8);
            scan.Read();
            if (isType)
            {
                typeUrl = scan.TokenType == JsonTokenType.String ? scan.GetString() : throw Error("must have a string '@type'");
                break;
            }
            scan.Skip();
        }
        if (empty)
        {
            reader.Skip();
            return;
        }
        if (typeUrl is null)
        {
            throw Error("must have '@type' (an Any)");
        }
        var name = typeUrl[(typeUrl.LastIndexOf('/') + 1)..];
        var type = _settings.Types?.Find(name) is { } found ? GrpcJsonType.For(found) : throw Error($"names a type the gateway does not know in '@type': '{name}'");
        ReadOnlyMemory<byte> value;
        if (type.IsWellKnownFile)
        {
            value = ReadOnlyMemory<byte>.Empty;
            var sawValue = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("@type"u8))
                {
                    reader.Read();
                }
                else if (reader.ValueTextEquals("value"u8))
                {
                    reader.Read();
                    _path.Add("value");
                    value = Message(ref reader, type);
                    _path.RemoveAt(_path.Count - 1);
                    sawValue = true;
                }
                else
                {
                    throw Error($"must have only '@type' and 'value' (an Any of {name})");
                }
            }
            if (!sawValue)
            {
                throw Error($"must have 'value' (an Any of {name})");
            }
        }
        else
        {
            value = Message(ref reader, type, skipAnyType: true);
        }
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteString(typeUrl);
        if (value.Length > 0)
        {
            WriteBytesField(output, 2, value);
        }
    }

    private static string ToSnakeCase(string path)
    {
        var text = new StringBuilder(path.Length + 4);
        foreach (var c in path)
        {
            if (char.IsAsciiLetterUpper(c))
            {
                text.Append('_').Append(char.ToLowerInvariant(c));
            }
            else
            {
                text.Append(c);
            }
        }
        return text.ToString();
    }

    private static void WriteNonZero(CodedOutputStream output, int number, long value)
    {
        if (value != 0)
        {
            output.WriteTag(number, WireFormat.WireType.Varint);
            output.WriteInt64(value);
        }
    }

    private ReadOnlyMemory<byte> ReadBytes(ref Utf8JsonReader reader)
    {
        var text = reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw Error($"must be a base64 string, not {Describe(reader.TokenType)}");
        // Standard or URL-safe alphabet, padding optional (proto3 JSON accepts both).
        var normal = text.Replace('-', '+').Replace('_', '/');
        if (normal.Length % 4 != 0)
        {
            normal = normal.PadRight(normal.Length + 4 - normal.Length % 4, '=');
        }
        var bytes = new byte[normal.Length / 4 * 3];
        return Convert.TryFromBase64String(normal, bytes, out var written) ? bytes.AsMemory(0, written) : throw Error("is not valid base64");
    }

    internal static WireFormat.WireType WireTypeOf(FieldType type) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => WireFormat.WireType.Fixed64,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => WireFormat.WireType.Fixed32,
        FieldType.String or FieldType.Bytes or FieldType.Message => WireFormat.WireType.LengthDelimited,
        FieldType.Group => WireFormat.WireType.StartGroup,
        _ => WireFormat.WireType.Varint,
    };

    /// <summary>Writes a scalar held as 64 bits: integers sign-extended, floating point as its IEEE bits (a float's as a double's).</summary>
    private static void WriteScalar(CodedOutputStream output, FieldType type, ulong bits)
    {
        switch (type)
        {
            case FieldType.Double: output.WriteDouble(BitConverter.Int64BitsToDouble((long)bits)); break;
            case FieldType.Float: output.WriteFloat((float)BitConverter.Int64BitsToDouble((long)bits)); break;
            case FieldType.Int64: output.WriteInt64((long)bits); break;
            case FieldType.UInt64: output.WriteUInt64(bits); break;
            case FieldType.Int32: output.WriteInt32((int)(long)bits); break;
            case FieldType.Fixed64: output.WriteFixed64(bits); break;
            case FieldType.Fixed32: output.WriteFixed32((uint)bits); break;
            case FieldType.Bool: output.WriteBool(bits != 0); break;
            case FieldType.UInt32: output.WriteUInt32((uint)bits); break;
            case FieldType.Enum: output.WriteEnum((int)(long)bits); break;
            case FieldType.SFixed32: output.WriteSFixed32((int)(long)bits); break;
            case FieldType.SFixed64: output.WriteSFixed64((long)bits); break;
            case FieldType.SInt32: output.WriteSInt32((int)(long)bits); break;
            case FieldType.SInt64: output.WriteSInt64((long)bits); break;
            default: throw new InvalidOperationException($"{type} is not a scalar");
        }
    }

    /// <summary>A numeric, bool or enum value as 64 bits; false for an unknown enum name when unknown names are skipped.</summary>
    private bool TryReadScalar(ref Utf8JsonReader reader, FieldDescriptor field, out ulong bits)
    {
        var type = field.FieldType;
        switch (type)
        {
            case FieldType.Bool:
                bits = reader.TokenType switch
                {
                    JsonTokenType.True => 1,
                    JsonTokenType.False => 0,
                    _ => throw Error($"must be true or false, not {Describe(reader.TokenType)}"),
                };
                return true;
            case FieldType.Double or FieldType.Float:
                {
                    var value = ReadFloatingPoint(ref reader, type == FieldType.Float);
                    bits = (ulong)BitConverter.DoubleToInt64Bits(value);
                    return true;
                }
            case FieldType.Enum:
                if (reader.TokenType == JsonTokenType.Null)
                {
                    bits = 0; // google.protobuf.NullValue
                    return true;
                }
                if (reader.TokenType == JsonTokenType.String)
                {
                    var name = reader.GetString()!;
                    if (field.EnumType.FindValueByName(name) is { } value)
                    {
                        bits = (ulong)(long)value.Number;
                        return true;
                    }
                    if (_settings.IgnoreUnknownFields)
                    {
                        bits = 0;
                        return false;
                    }
                    throw Error($"must be a value of {field.EnumType.FullName}, not '{name}'");
                }
                bits = ReadInteger(ref reader, FieldType.Int32);
                return true;
            default:
                bits = ReadInteger(ref reader, type);
                return true;
        }
    }

    private double ReadFloatingPoint(ref Utf8JsonReader reader, bool single)
    {
        double value;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (!reader.TryGetDouble(out value) || double.IsInfinity(value))
            {
                throw Error("the number is out of range");
            }
        }
        else if (reader.TokenType == JsonTokenType.String)
        {
            var text = reader.GetString()!;
            value = text switch
            {
                "NaN" => double.NaN,
                "Infinity" => double.PositiveInfinity,
                "-Infinity" => double.NegativeInfinity,
                _ => double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var parsed)
                    && !double.IsInfinity(parsed) ? parsed : throw Error($"must be a number, not '{text}'"),
            };
        }
        else
        {
            throw Error($"must be a number, not {Describe(reader.TokenType)}");
        }
        if (single && double.IsFinite(value) && float.IsInfinity((float)value)) // rounds to a float first: float.MaxValue's shortest text is a little above it
        {
            throw Error("is out of range for a float");
        }
        return value;
    }

    private ulong ReadInteger(ref Utf8JsonReader reader, FieldType type)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out var whole))
            {
                return CheckRange(whole, type);
            }
            if (reader.TryGetUInt64(out var big))
            {
                return type is FieldType.UInt64 or FieldType.Fixed64 ? big : throw Error($"is out of range for {Name(type)}: {big}");
            }
            return reader.TryGetDecimal(out var number) ? FromDecimal(number, type) : throw Error($"is out of range for {Name(type)}");
        }
        if (reader.TokenType == JsonTokenType.String)
        {
            return ParseIntegerText(reader.GetString()!, type);
        }
        throw Error($"must be an integer, not {Describe(reader.TokenType)}");
    }

    private ulong ParseIntegerText(string text, FieldType type)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
        {
            return CheckRange(whole, type);
        }
        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var big))
        {
            return type is FieldType.UInt64 or FieldType.Fixed64 ? big : throw Error($"is out of range for {Name(type)}: {big}");
        }
        return decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var number)
            ? FromDecimal(number, type)
            : throw Error($"must be an integer, not '{text}'");
    }

    private ulong FromDecimal(decimal number, FieldType type)
    {
        if (decimal.Truncate(number) != number)
        {
            throw Error($"must be an integer, not {number.ToString(CultureInfo.InvariantCulture)}");
        }
        if (number >= long.MinValue && number <= long.MaxValue)
        {
            return CheckRange((long)number, type);
        }
        if (number > 0 && number <= ulong.MaxValue && type is FieldType.UInt64 or FieldType.Fixed64)
        {
            return (ulong)number;
        }
        throw Error($"is out of range for {Name(type)}: {number.ToString(CultureInfo.InvariantCulture)}");
    }

    private ulong CheckRange(long value, FieldType type)
    {
        var ok = type switch
        {
            FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 or FieldType.Enum => value is >= int.MinValue and <= int.MaxValue,
            FieldType.UInt32 or FieldType.Fixed32 => value is >= 0 and <= uint.MaxValue,
            FieldType.UInt64 or FieldType.Fixed64 => value >= 0,
            _ => true,
        };
        return ok ? (ulong)value : throw Error($"is out of range for {Name(type)}: {value}");
    }

    private static string Name(FieldType type) => type.ToString().ToLowerInvariant();
}

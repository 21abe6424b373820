using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace Portico.Gateway.Transcoding;

/// <summary>
/// Protobuf wire bytes → proto3 JSON over a <see cref="MessageDescriptor"/>, read with <see cref="CodedInputStream"/>
/// and written with <see cref="Utf8JsonWriter"/>. The wire may repeat a field (the last scalar wins, message parts
/// merge, repeated values add up, packed or not), so each message's fields are first noted as positions in the input
/// (no copies, no object graph) and then written in field-number order, as Google.Protobuf's formatter writes them.
/// </summary>
internal sealed class GrpcJsonWriter
{
    /// <summary>A field value found on the wire: a scalar's 64 bits, or where a length-delimited payload lies.</summary>
    private readonly record struct Entry(int Field, int Seq, ulong Bits, int Start, int End, bool Delimited);

    private readonly GrpcJsonSettings _settings;
    private readonly byte[] _buffer;
    private readonly List<List<Entry>> _entries = [];
    private int _depth = -1;

    private GrpcJsonWriter(byte[] buffer, GrpcJsonSettings settings)
    {
        _buffer = buffer;
        _settings = settings;
    }

    /// <summary>Writes the message in <paramref name="buffer"/>[offset..offset+length] as JSON.</summary>
    public static void Write(Utf8JsonWriter writer, byte[] buffer, int offset, int length, MessageDescriptor type, GrpcJsonSettings? settings = null)
    {
        var self = new GrpcJsonWriter(buffer, settings ?? GrpcJsonSettings.Default);
        try
        {
            self.WriteMessage(writer, GrpcJsonType.For(type), [(offset, offset + length)]);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new GrpcJsonException("", $"is not a valid {type.FullName}: {ex.Message}");
        }
        catch (ArgumentException ex)
        {
            throw new GrpcJsonException("", $"is not a valid {type.FullName}: {ex.Message}"); // e.g. a string that is not UTF-8
        }
    }

    /// <summary>Writes one field of the message (an HTTP rule's <c>response_body</c>): its value alone, the default when it is not set.</summary>
    public static void WriteField(Utf8JsonWriter writer, byte[] message, MessageDescriptor type, string fieldName, GrpcJsonSettings? settings = null)
    {
        var self = new GrpcJsonWriter(message, settings ?? GrpcJsonSettings.Default);
        var info = GrpcJsonType.For(type);
        var index = Array.FindIndex(info.Fields, f => f.Name == fieldName);
        try
        {
            var entries = self.Collect(info, [(0, message.Length)]);
            var first = Math.Max(0, entries.FindIndex(e => e.Field == index));
            var end = entries.FindLastIndex(e => e.Field == index) + 1; // 0 when the field is not there: first == end
            self.WriteField(writer, info.Fields[index], entries, first, end, withName: false);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or ArgumentException)
        {
            throw new GrpcJsonException("", $"is not a valid {type.FullName}: {ex.Message}");
        }
    }

    public static string ToJson(byte[] message, MessageDescriptor type, GrpcJsonSettings? settings = null)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output))
        {
            Write(writer, message, 0, message.Length, type, settings);
        }
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>How deep messages may nest in a reply: deeper is refused rather than risking the stack on what a service sent.</summary>
    private const int MaxDepth = 100;

    private List<Entry> Collect(GrpcJsonType type, IReadOnlyList<(int Start, int End)> chunks)
    {
        _depth++;
        if (_depth > MaxDepth)
        {
            throw new GrpcJsonException("", $"nests more than {MaxDepth} messages deep");
        }
        if (_entries.Count <= _depth)
        {
            _entries.Add([]);
        }
        var entries = _entries[_depth];
        entries.Clear();
        var seq = 0;
        foreach (var (start, end) in chunks)
        {
            var input = new CodedInputStream(_buffer, start, end - start);
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                var wire = WireFormat.GetTagWireType(tag);
                if (!type.ByNumber.TryGetValue(WireFormat.GetTagFieldNumber(tag), out var index))
                {
                    input.SkipLastField(); // a field this version of the type does not know
                    continue;
                }
                var field = type.Fields[index];
                var expected = GrpcJsonReader.WireTypeOf(field.FieldType);
                if (wire == WireFormat.WireType.LengthDelimited && (expected == WireFormat.WireType.LengthDelimited || field.IsRepeated))
                {
                    var before = (int)input.Position;
                    input.SkipLastField();
                    var payload = before;
                    while (_buffer[payload++] >= 0x80)
                    {
                        // past the length's varint
                    }
                    entries.Add(new Entry(index, seq++, 0, payload, (int)input.Position, true));
                }
                else if (wire == expected)
                {
                    entries.Add(new Entry(index, seq++, ReadScalar(input, field.FieldType), 0, 0, false));
                }
                else
                {
                    input.SkipLastField(); // the wrong wire type: an unknown field, as generated code treats it
                }
            }
        }
        entries.Sort(static (a, b) => a.Field != b.Field ? a.Field.CompareTo(b.Field) : a.Seq.CompareTo(b.Seq));
        return entries;
    }

    private static ulong ReadScalar(CodedInputStream input, FieldType type) => type switch
    {
        FieldType.Double => (ulong)BitConverter.DoubleToInt64Bits(input.ReadDouble()),
        FieldType.Float => (ulong)BitConverter.DoubleToInt64Bits(input.ReadFloat()),
        FieldType.Int64 => (ulong)input.ReadInt64(),
        FieldType.UInt64 => input.ReadUInt64(),
        FieldType.Int32 => (ulong)(long)input.ReadInt32(),
        FieldType.Fixed64 => input.ReadFixed64(),
        FieldType.Fixed32 => input.ReadFixed32(),
        FieldType.Bool => input.ReadBool() ? 1UL : 0UL,
        FieldType.UInt32 => input.ReadUInt32(),
        FieldType.Enum => (ulong)(long)input.ReadEnum(),
        FieldType.SFixed32 => (ulong)(long)input.ReadSFixed32(),
        FieldType.SFixed64 => (ulong)input.ReadSFixed64(),
        FieldType.SInt32 => (ulong)(long)input.ReadSInt32(),
        FieldType.SInt64 => (ulong)input.ReadSInt64(),
        _ => throw new InvalidOperationException($"{type} is not a scalar"),
    };

    private void WriteMessage(Utf8JsonWriter writer, GrpcJsonType type, IReadOnlyList<(int Start, int End)> chunks)
    {
        var entries = Collect(type, chunks);
        try
        {
            switch (type.Kind)
            {
                case WellKnownType.Timestamp:
                case WellKnownType.Duration:
                    {
                        var seconds = (long)Last(entries, 0);
                        var nanos = (int)(long)Last(entries, 1);
                        writer.WriteStringValue(type.Kind == WellKnownType.Timestamp
                            ? GrpcJsonTime.FormatTimestamp(seconds, nanos)
                            : GrpcJsonTime.FormatDuration(seconds, nanos));
                        return;
                    }
                case WellKnownType.Wrapper:
                    {
                        var last = LastEntry(entries, 0);
                        WriteValue(writer, type.Fields[0], last ?? default);
                        return;
                    }
                case WellKnownType.Struct:
                    WriteMap(writer, type.Fields[0], entries, 0, entries.Count);
                    return;
                case WellKnownType.ListValue:
                    writer.WriteStartArray();
                    foreach (var entry in entries)
                    {
                        WriteMessage(writer, GrpcJsonType.For(type.Fields[0].MessageType), [(entry.Start, entry.End)]);
                    }
                    writer.WriteEndArray();
                    return;
                case WellKnownType.Value:
                    {
                        if (entries.Count == 0)
                        {
                            throw new GrpcJsonException("", "has a google.protobuf.Value with no kind set");
                        }
                        var kind = entries.MaxBy(e => e.Seq);
                        var field = type.Fields[kind.Field];
                        if (field.FieldType == FieldType.Message)
                        {
                            WriteMessage(writer, GrpcJsonType.For(field.MessageType), Chunks(entries, kind.Field));
                        }
                        else
                        {
                            WriteValue(writer, field, kind);
                        }
                        return;
                    }
                case WellKnownType.FieldMask:
                    {
                        var paths = new StringBuilder();
                        foreach (var entry in entries)
                        {
                            paths.Append(paths.Length == 0 ? "" : ",").Append(ToCamelCase(Encoding.UTF8.GetString(_buffer, entry.Start, entry.End - entry.Start)));
                        }
                        writer.WriteStringValue(paths.ToString());
                        return;
                    }
                case WellKnownType.Any:
                    WriteAny(writer, entries);
                    return;
            }
            writer.WriteStartObject();
            WriteFields(writer, type, entries);
            writer.WriteEndObject();
        }
        finally
        {
            _depth--;
        }
    }

    private void WriteAny(Utf8JsonWriter writer, List<Entry> entries)
    {
        var url = LastEntry(entries, 0) is { } u ? Encoding.UTF8.GetString(_buffer, u.Start, u.End - u.Start) : "";
        var value = LastEntry(entries, 1);
        if (url.Length == 0)
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
            return;
        }
        var name = url[(url.LastIndexOf('/') + 1)..];
        var type = _settings.Types?.Find(name) is { } found ? GrpcJsonType.For(found)
            : throw new GrpcJsonException("", $"holds an Any of a type the gateway does not know: '{name}'");
        (int, int)[] chunks = value is { } v ? [(v.Start, v.End)] : [(0, 0)];
        writer.WriteStartObject();
        writer.WriteString("@type"u8, url);
        if (type.IsWellKnownFile)
        {
            writer.WritePropertyName("value"u8);
            WriteMessage(writer, type, chunks);
        }
        else
        {
            var inner = Collect(type, chunks);
            try
            {
                WriteFields(writer, type, inner);
            }
            finally
            {
                _depth--;
            }
        }
        writer.WriteEndObject();
    }

    private void WriteFields(Utf8JsonWriter writer, GrpcJsonType type, List<Entry> entries)
    {
        // The member of each oneof seen last on the wire is the one that is set.
        Span<int> winners = type.Oneofs.Length <= 32 ? stackalloc int[type.Oneofs.Length] : new int[type.Oneofs.Length];
        if (type.Oneofs.Length > 0)
        {
            winners.Fill(-1);
            var bestSeq = type.Oneofs.Length <= 32 ? stackalloc int[type.Oneofs.Length] : new int[type.Oneofs.Length];
            bestSeq.Fill(-1);
            foreach (var entry in entries)
            {
                if (type.Fields[entry.Field].RealContainingOneof is { } oneof)
                {
                    var slot = Array.IndexOf(type.Oneofs, oneof);
                    if (entry.Seq > bestSeq[slot])
                    {
                        bestSeq[slot] = entry.Seq;
                        winners[slot] = entry.Field;
                    }
                }
            }
        }

        var i = 0;
        for (var index = 0; index < type.Fields.Length; index++)
        {
            var field = type.Fields[index];
            var first = i;
            while (i < entries.Count && entries[i].Field == index)
            {
                i++;
            }
            if (first == i)
            {
                if (_settings.FormatDefaultValues && !field.HasPresence)
                {
                    writer.WritePropertyName(field.JsonName);
                    WriteDefault(writer, field);
                }
                continue;
            }
            if (field.RealContainingOneof is { } oneof && winners[Array.IndexOf(type.Oneofs, oneof)] != index)
            {
                continue;
            }
            WriteField(writer, field, entries, first, i, withName: true);
        }
    }

    /// <summary>One field's value from its wire entries [first, end); a singular scalar holding its default is left out (unless asked for).</summary>
    private void WriteField(Utf8JsonWriter writer, FieldDescriptor field, List<Entry> entries, int first, int end, bool withName)
    {
        if (field.IsMap)
        {
            if (withName)
            {
                writer.WritePropertyName(field.JsonName);
            }
            WriteMap(writer, field, entries, first, end);
        }
        else if (field.IsRepeated)
        {
            if (withName)
            {
                writer.WritePropertyName(field.JsonName);
            }
            writer.WriteStartArray();
            for (var e = first; e < end; e++)
            {
                WriteElements(writer, field, entries[e]);
            }
            writer.WriteEndArray();
        }
        else if (field.FieldType is FieldType.Message or FieldType.Group)
        {
            if (withName)
            {
                writer.WritePropertyName(field.JsonName);
            }
            var chunks = new (int, int)[Math.Max(1, end - first)];
            for (var e = first; e < end; e++)
            {
                chunks[e - first] = (entries[e].Start, entries[e].End);
            }
            WriteMessage(writer, GrpcJsonType.For(field.MessageType), chunks);
        }
        else
        {
            var last = end > first ? entries[end - 1] : default;
            if (withName && !field.HasPresence && IsDefault(field, last) && !_settings.FormatDefaultValues)
            {
                return;
            }
            if (withName)
            {
                writer.WritePropertyName(field.JsonName);
            }
            WriteValue(writer, field, last);
        }
    }

    private static bool IsDefault(FieldDescriptor field, Entry entry) => entry.Delimited ? entry.End == entry.Start
        : field.FieldType is FieldType.Double or FieldType.Float ? BitConverter.Int64BitsToDouble((long)entry.Bits) == 0 : entry.Bits == 0;

    /// <summary>One wire entry of a repeated field: a single element, or a packed run of them.</summary>
    private void WriteElements(Utf8JsonWriter writer, FieldDescriptor field, Entry entry)
    {
        if (field.FieldType is FieldType.Message or FieldType.Group)
        {
            WriteMessage(writer, GrpcJsonType.For(field.MessageType), [(entry.Start, entry.End)]);
        }
        else if (entry.Delimited && field.FieldType is not (FieldType.String or FieldType.Bytes))
        {
            var input = new CodedInputStream(_buffer, entry.Start, entry.End - entry.Start);
            while (!input.IsAtEnd)
            {
                WriteValue(writer, field, new Entry(entry.Field, 0, ReadScalar(input, field.FieldType), 0, 0, false));
            }
        }
        else
        {
            WriteValue(writer, field, entry);
        }
    }

    /// <summary>A map's entries (each a key 1 / value 2 message) as a JSON object; a key seen again replaces the earlier entry.</summary>
    private void WriteMap(Utf8JsonWriter writer, FieldDescriptor field, List<Entry> entries, int from, int to)
    {
        var keyField = field.MessageType.FindFieldByNumber(1);
        var valueField = field.MessageType.FindFieldByNumber(2);
        var pairs = new List<(string Key, Entry Value, bool HasValue)>(to - from);
        Dictionary<string, int>? seen = to - from > 1 ? new(StringComparer.Ordinal) : null;
        for (var e = from; e < to; e++)
        {
            var input = new CodedInputStream(_buffer, entries[e].Start, entries[e].End - entries[e].Start);
            Entry key = default, value = default;
            var hasValue = false;
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                var number = WireFormat.GetTagFieldNumber(tag);
                var target = number == 1 ? keyField : number == 2 ? valueField : null;
                if (target is null || WireFormat.GetTagWireType(tag) != GrpcJsonReader.WireTypeOf(target.FieldType))
                {
                    input.SkipLastField();
                    continue;
                }
                Entry read;
                if (WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
                {
                    var before = (int)input.Position;
                    input.SkipLastField();
                    var payload = before;
                    while (_buffer[payload++] >= 0x80)
                    {
                        // past the length's varint
                    }
                    // A message value given twice in one entry would merge; the last part is taken (no encoder splits one).
                    read = new Entry(number - 1, 0, 0, payload, (int)input.Position, true);
                }
                else
                {
                    read = new Entry(number - 1, 0, ReadScalar(input, target.FieldType), 0, 0, false);
                }
                if (number == 1)
                {
                    key = read;
                }
                else
                {
                    value = read;
                    hasValue = true;
                }
            }
            var text = KeyText(keyField, key);
            if (seen is not null && seen.TryGetValue(text, out var earlier))
            {
                pairs[earlier] = (text, value, hasValue);
            }
            else
            {
                seen?.Add(text, pairs.Count);
                pairs.Add((text, value, hasValue));
            }
        }
        writer.WriteStartObject();
        foreach (var (key, value, hasValue) in pairs)
        {
            writer.WritePropertyName(key);
            if (valueField.FieldType == FieldType.Message)
            {
                WriteMessage(writer, GrpcJsonType.For(valueField.MessageType), [hasValue ? (value.Start, value.End) : (0, 0)]);
            }
            else if (hasValue)
            {
                WriteValue(writer, valueField, value);
            }
            else
            {
                WriteDefault(writer, valueField);
            }
        }
        writer.WriteEndObject();
    }

    private string KeyText(FieldDescriptor keyField, Entry key) => keyField.FieldType switch
    {
        FieldType.String => key.Delimited ? Encoding.UTF8.GetString(_buffer, key.Start, key.End - key.Start) : "",
        FieldType.Bool => key.Bits != 0 ? "true" : "false",
        FieldType.UInt32 or FieldType.Fixed32 or FieldType.UInt64 or FieldType.Fixed64 => key.Bits.ToString(CultureInfo.InvariantCulture),
        _ => ((long)key.Bits).ToString(CultureInfo.InvariantCulture),
    };

    private static IReadOnlyList<(int, int)> Chunks(List<Entry> entries, int field) =>
        [.. entries.Where(e => e.Field == field).Select(e => (e.Start, e.End))];

    private static Entry? LastEntry(List<Entry> entries, int field)
    {
        for (var i = entries.Count - 1; i >= 0; i--)
        {
            if (entries[i].Field == field)
            {
                return entries[i];
            }
        }
        return null;
    }

    private static ulong Last(List<Entry> entries, int field) => LastEntry(entries, field)?.Bits ?? 0;

    private void WriteDefault(Utf8JsonWriter writer, FieldDescriptor field)
    {
        if (field.IsMap)
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
        }
        else if (field.IsRepeated)
        {
            writer.WriteStartArray();
            writer.WriteEndArray();
        }
        else if (field.FieldType is FieldType.String or FieldType.Bytes)
        {
            writer.WriteStringValue(""u8);
        }
        else if (field.FieldType == FieldType.Message)
        {
            WriteMessage(writer, GrpcJsonType.For(field.MessageType), [(0, 0)]);
        }
        else
        {
            WriteValue(writer, field, default);
        }
    }

    /// <summary>A singular value as proto3 JSON: 64-bit integers as strings, enums by name, bytes as base64, NaN and infinities as strings.</summary>
    private void WriteValue(Utf8JsonWriter writer, FieldDescriptor field, Entry entry)
    {
        var bits = entry.Bits;
        Span<byte> text = stackalloc byte[24];
        int written;
        switch (field.FieldType)
        {
            case FieldType.Double or FieldType.Float:
                {
                    var value = BitConverter.Int64BitsToDouble((long)bits);
                    if (double.IsNaN(value))
                    {
                        writer.WriteStringValue("NaN"u8);
                    }
                    else if (double.IsInfinity(value))
                    {
                        writer.WriteStringValue(value > 0 ? "Infinity"u8 : "-Infinity"u8);
                    }
                    else if (field.FieldType == FieldType.Float)
                    {
                        writer.WriteNumberValue((float)value);
                    }
                    else
                    {
                        writer.WriteNumberValue(value);
                    }
                    break;
                }
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                ((long)bits).TryFormat(text, out written, default, CultureInfo.InvariantCulture);
                writer.WriteStringValue(text[..written]);
                break;
            case FieldType.UInt64 or FieldType.Fixed64:
                bits.TryFormat(text, out written, default, CultureInfo.InvariantCulture);
                writer.WriteStringValue(text[..written]);
                break;
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                writer.WriteNumberValue((int)(long)bits);
                break;
            case FieldType.UInt32 or FieldType.Fixed32:
                writer.WriteNumberValue((uint)bits);
                break;
            case FieldType.Bool:
                writer.WriteBooleanValue(bits != 0);
                break;
            case FieldType.Enum:
                if (field.EnumType.FullName == "google.protobuf.NullValue")
                {
                    writer.WriteNullValue();
                }
                else if (field.EnumType.FindValueByNumber((int)(long)bits) is { } value)
                {
                    writer.WriteStringValue(value.Name);
                }
                else
                {
                    writer.WriteNumberValue((int)(long)bits);
                }
                break;
            case FieldType.String:
                writer.WriteStringValue(_buffer.AsSpan(entry.Start, entry.End - entry.Start));
                break;
            case FieldType.Bytes:
                writer.WriteBase64StringValue(_buffer.AsSpan(entry.Start, entry.End - entry.Start));
                break;
            default:
                throw new InvalidOperationException($"{field.FieldType} is not a scalar");
        }
    }

    private static string ToCamelCase(string path)
    {
        var text = new StringBuilder(path.Length);
        var upper = false;
        foreach (var c in path)
        {
            if (c == '_')
            {
                upper = true;
            }
            else
            {
                text.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
        }
        return text.ToString();
    }
}

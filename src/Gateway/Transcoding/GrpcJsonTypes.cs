using System.Runtime.CompilerServices;
using Google.Protobuf.Reflection;

namespace Portico.Gateway.Transcoding;

/// <summary>A message type whose proto3 JSON form is not an object of its fields.</summary>
internal enum WellKnownType
{
    None,
    Timestamp,
    Duration,
    Wrapper,
    Struct,
    Value,
    ListValue,
    FieldMask,
    Any,
}

/// <summary>A JSON text or a protobuf message that does not fit its type; <see cref="Path"/> names the field (<c>items[2].price</c>).</summary>
internal sealed class GrpcJsonException(string path, string message) : Exception(path.Length == 0 ? "The message " + message : $"'{path}' {message}")
{
    public string Path { get; } = path;
}

/// <summary>
/// What the codec needs of a message type, worked out once per descriptor: its fields by number and by JSON or proto
/// name, and whether it is a well-known type. Kept beside the descriptor (weakly), so a descriptor set replaced by a
/// refresh takes its entries with it.
/// </summary>
internal sealed class GrpcJsonType
{
    private static readonly ConditionalWeakTable<MessageDescriptor, GrpcJsonType> Cache = new();

    private GrpcJsonType(MessageDescriptor descriptor)
    {
        Descriptor = descriptor;
        Fields = [.. descriptor.Fields.InFieldNumberOrder()];
        ByName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < Fields.Length; i++)
        {
            ByNumber[Fields[i].FieldNumber] = i;
            ByName[Fields[i].JsonName] = i;
            ByName.TryAdd(Fields[i].Name, i);
        }
        Oneofs = [.. descriptor.Oneofs.Where(o => !o.IsSynthetic)];
        Kind = descriptor.FullName switch
        {
            "google.protobuf.Timestamp" => WellKnownType.Timestamp,
            "google.protobuf.Duration" => WellKnownType.Duration,
            "google.protobuf.DoubleValue" or "google.protobuf.FloatValue" or "google.protobuf.Int64Value" or "google.protobuf.UInt64Value"
                or "google.protobuf.Int32Value" or "google.protobuf.UInt32Value" or "google.protobuf.BoolValue" or "google.protobuf.StringValue"
                or "google.protobuf.BytesValue" => WellKnownType.Wrapper,
            "google.protobuf.Struct" => WellKnownType.Struct,
            "google.protobuf.Value" => WellKnownType.Value,
            "google.protobuf.ListValue" => WellKnownType.ListValue,
            "google.protobuf.FieldMask" => WellKnownType.FieldMask,
            "google.protobuf.Any" => WellKnownType.Any,
            _ => WellKnownType.None,
        };
    }

    public static GrpcJsonType For(MessageDescriptor descriptor) => Cache.GetValue(descriptor, static d => new GrpcJsonType(d));

    public MessageDescriptor Descriptor { get; }

    /// <summary>Fields in number order (the order JSON is written in, as Google.Protobuf's formatter does).</summary>
    public FieldDescriptor[] Fields { get; }

    public Dictionary<int, int> ByNumber { get; } = [];

    /// <summary>By JSON name (lowerCamel) and by proto name, both accepted when reading.</summary>
    public Dictionary<string, int> ByName { get; }

    /// <summary>Real oneofs (proto3 <c>optional</c> makes synthetic ones, which behave as presence only).</summary>
    public OneofDescriptor[] Oneofs { get; }

    public WellKnownType Kind { get; }

    /// <summary>
    /// A type of Google's well-known-type files: inside an <c>Any</c> its JSON goes under <c>"value"</c>, as
    /// Google.Protobuf's formatter and parser have it (Empty too).
    /// </summary>
    public bool IsWellKnownFile => Descriptor.File.Package == "google.protobuf" && WellKnownFiles.Contains(Descriptor.File.Name);

    private static readonly HashSet<string> WellKnownFiles = new(StringComparer.Ordinal)
    {
        "google/protobuf/any.proto", "google/protobuf/api.proto", "google/protobuf/duration.proto", "google/protobuf/empty.proto",
        "google/protobuf/field_mask.proto", "google/protobuf/source_context.proto", "google/protobuf/struct.proto",
        "google/protobuf/timestamp.proto", "google/protobuf/type.proto", "google/protobuf/wrappers.proto",
    };
}

/// <summary>
/// The proto3 JSON text forms of Timestamp and Duration (RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits; seconds
/// with an <c>s</c>), in both directions, with the ranges the spec allows.
/// </summary>
internal static class GrpcJsonTime
{
    public const long MinTimestampSeconds = -62135596800; // 0001-01-01T00:00:00Z
    public const long MaxTimestampSeconds = 253402300799;  // 9999-12-31T23:59:59Z
    public const long MaxDurationSeconds = 315576000000;

    public static string FormatTimestamp(long seconds, int nanos)
    {
        if (seconds is < MinTimestampSeconds or > MaxTimestampSeconds || nanos is < 0 or > 999_999_999)
        {
            throw new GrpcJsonException("", "is a Timestamp out of range");
        }
        var time = DateTime.UnixEpoch.AddTicks(seconds * TimeSpan.TicksPerSecond);
        return time.ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + Fraction(nanos) + "Z";
    }

    public static string FormatDuration(long seconds, int nanos)
    {
        if (seconds is < -MaxDurationSeconds or > MaxDurationSeconds || nanos is <= -1_000_000_000 or >= 1_000_000_000
            || (seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0))
        {
            throw new GrpcJsonException("", "is a Duration out of range");
        }
        var sign = seconds < 0 || nanos < 0 ? "-" : "";
        return sign + Math.Abs(seconds).ToString(System.Globalization.CultureInfo.InvariantCulture) + Fraction(Math.Abs(nanos)) + "s";
    }

    private static string Fraction(int nanos) => nanos == 0 ? ""
        : nanos % 1_000_000 == 0 ? "." + (nanos / 1_000_000).ToString("D3", System.Globalization.CultureInfo.InvariantCulture)
        : nanos % 1_000 == 0 ? "." + (nanos / 1_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture)
        : "." + nanos.ToString("D9", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>RFC 3339 with any offset (<c>Z</c>, <c>+09:00</c>) and up to 9 fractional digits.</summary>
    public static bool TryParseTimestamp(string text, out long seconds, out int nanos)
    {
        seconds = 0;
        nanos = 0;
        var t = text.IndexOf('T', StringComparison.Ordinal);
        if (text.Length < 20 || t != 10)
        {
            return false;
        }
        var zone = text.AsSpan(19);
        var fraction = ReadOnlySpan<char>.Empty;
        if (zone.Length > 0 && zone[0] == '.')
        {
            var end = 1;
            while (end < zone.Length && char.IsAsciiDigit(zone[end]))
            {
                end++;
            }
            fraction = zone[1..end];
            zone = zone[end..];
        }
        if (fraction.Length > 9 || (zone.Length == 0) || !DateTime.TryParseExact(text.AsSpan(0, 19), "yyyy-MM-dd'T'HH:mm:ss",
                System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var local))
        {
            return false;
        }
        var offset = 0;
        if (zone is not ("Z" or "z"))
        {
            if (zone.Length != 6 || zone[0] is not ('+' or '-') || zone[3] != ':'
                || !int.TryParse(zone[1..3], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var hours)
                || !int.TryParse(zone[4..6], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var minutes)
                || hours > 23 || minutes > 59)
            {
                return false;
            }
            offset = (hours * 60 + minutes) * 60 * (zone[0] == '-' ? -1 : 1);
        }
        seconds = (local - DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerSecond - offset;
        nanos = fraction.Length == 0 ? 0 : int.Parse(fraction, System.Globalization.CultureInfo.InvariantCulture) * Pow10(9 - fraction.Length);
        return seconds is >= MinTimestampSeconds and <= MaxTimestampSeconds;
    }

    /// <summary><c>-1.5s</c>: seconds with up to 9 fractional digits and an <c>s</c>.</summary>
    public static bool TryParseDuration(string text, out long seconds, out int nanos)
    {
        seconds = 0;
        nanos = 0;
        if (!text.EndsWith('s') || text.Length < 2)
        {
            return false;
        }
        var body = text.AsSpan(0, text.Length - 1);
        var negative = body[0] == '-';
        if (negative)
        {
            body = body[1..];
        }
        var dot = body.IndexOf('.');
        var whole = dot < 0 ? body : body[..dot];
        var fraction = dot < 0 ? [] : body[(dot + 1)..];
        if (whole.Length == 0 || fraction.Length > 9 || (dot >= 0 && fraction.Length == 0)
            || !long.TryParse(whole, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out seconds)
            || (fraction.Length > 0 && !int.TryParse(fraction, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out nanos))
            || seconds > MaxDurationSeconds)
        {
            return false;
        }
        nanos *= Pow10(9 - fraction.Length);
        if (negative)
        {
            seconds = -seconds;
            nanos = -nanos;
        }
        return true;
    }

    private static int Pow10(int n)
    {
        var value = 1;
        for (var i = 0; i < n; i++)
        {
            value *= 10;
        }
        return value;
    }
}

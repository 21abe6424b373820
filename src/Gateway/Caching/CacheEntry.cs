using System.Text;

namespace Portico.Gateway.Caching;

/// <summary>A stored answer: status, the headers worth replaying, the body, and its freshness windows.</summary>
internal sealed class CacheEntry
{
    private const byte FormatVersion = 1;

    public required int Status { get; init; }
    public required KeyValuePair<string, string[]>[] Headers { get; init; }
    public required byte[] Body { get; init; }
    public required string RouteId { get; init; }
    public required string[] Tags { get; init; }
    public required DateTimeOffset StoredAt { get; init; }
    public required DateTimeOffset FreshUntil { get; init; }
    public required DateTimeOffset StaleWhileRevalidateUntil { get; init; }
    public required DateTimeOffset StaleIfErrorUntil { get; init; }

    /// <summary>When nothing can be served from it any more.</summary>
    public DateTimeOffset ExpiresAt => Max(FreshUntil, Max(StaleWhileRevalidateUntil, StaleIfErrorUntil));

    /// <summary>Approximate bytes held, for the size-bounded memory tier.</summary>
    public long Size => Body.Length + 256 + Headers.Sum(h => h.Key.Length + h.Value.Sum(v => v.Length + 16));

    public byte[] Serialize()
    {
        using var stream = new MemoryStream(Body.Length + 512);
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(FormatVersion);
            writer.Write(Status);
            writer.Write(RouteId);
            writer.Write(Tags.Length);
            foreach (var tag in Tags)
            {
                writer.Write(tag);
            }
            writer.Write(StoredAt.ToUnixTimeMilliseconds());
            writer.Write(FreshUntil.ToUnixTimeMilliseconds());
            writer.Write(StaleWhileRevalidateUntil.ToUnixTimeMilliseconds());
            writer.Write(StaleIfErrorUntil.ToUnixTimeMilliseconds());
            writer.Write(Headers.Length);
            foreach (var (name, values) in Headers)
            {
                writer.Write(name);
                writer.Write(values.Length);
                foreach (var value in values)
                {
                    writer.Write(value);
                }
            }
            writer.Write(Body.Length);
            writer.Write(Body);
        }
        return stream.ToArray();
    }

    /// <summary>Null when the bytes are not an entry of this format (another version, or damaged).</summary>
    public static CacheEntry? Deserialize(byte[] data)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(data), Encoding.UTF8);
            if (reader.ReadByte() != FormatVersion)
            {
                return null;
            }
            var status = reader.ReadInt32();
            var routeId = reader.ReadString();
            var tags = new string[reader.ReadInt32()];
            for (var i = 0; i < tags.Length; i++)
            {
                tags[i] = reader.ReadString();
            }
            var storedAt = DateTimeOffset.FromUnixTimeMilliseconds(reader.ReadInt64());
            var freshUntil = DateTimeOffset.FromUnixTimeMilliseconds(reader.ReadInt64());
            var swrUntil = DateTimeOffset.FromUnixTimeMilliseconds(reader.ReadInt64());
            var sieUntil = DateTimeOffset.FromUnixTimeMilliseconds(reader.ReadInt64());
            var headers = new KeyValuePair<string, string[]>[reader.ReadInt32()];
            for (var i = 0; i < headers.Length; i++)
            {
                var name = reader.ReadString();
                var values = new string[reader.ReadInt32()];
                for (var j = 0; j < values.Length; j++)
                {
                    values[j] = reader.ReadString();
                }
                headers[i] = new(name, values);
            }
            var body = reader.ReadBytes(reader.ReadInt32());
            return new CacheEntry
            {
                Status = status, RouteId = routeId, Tags = tags, StoredAt = storedAt, FreshUntil = freshUntil,
                StaleWhileRevalidateUntil = swrUntil, StaleIfErrorUntil = sieUntil, Headers = headers, Body = body,
            };
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}

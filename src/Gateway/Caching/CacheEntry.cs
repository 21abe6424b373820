using System.Text;

namespace Portico.Gateway.Caching;

/// <summary>
/// A stored answer: status, the headers worth replaying, the body, and its freshness windows. An entry with
/// <see cref="Status"/> 0 is a variant index: it names the headers the answers for its key vary on, and each variant
/// lives under the key plus those headers' values (<see cref="CacheKey.Variant"/>).
/// </summary>
internal sealed class CacheEntry
{
    private const byte FormatVersion = 2;

    public required int Status { get; init; }
    public required KeyValuePair<string, string[]>[] Headers { get; init; }
    public required byte[] Body { get; init; }
    public required string RouteId { get; init; }
    public required string[] Tags { get; init; }
    public required DateTimeOffset StoredAt { get; init; }
    public required DateTimeOffset FreshUntil { get; init; }
    public required DateTimeOffset StaleWhileRevalidateUntil { get; init; }
    public required DateTimeOffset StaleIfErrorUntil { get; init; }

    /// <summary>RFC 9111 §4.2.3 corrected_initial_age: how old the answer already was when it was stored.</summary>
    public TimeSpan InitialAge { get; init; }

    /// <summary>Path and query of the request, for invalidation by URI (RFC 9111 §4.4).</summary>
    public string Target { get; init; } = "";

    /// <summary>The request header names the answer varies on (lower case), and the request's normalised values of them.</summary>
    public string[] VaryNames { get; init; } = [];

    public string Variant { get; init; } = "";

    public bool IsVariantIndex => Status == 0;

    /// <summary>RFC 9111 §4.2.3 current_age.</summary>
    public TimeSpan AgeAt(DateTimeOffset now) => InitialAge + (now > StoredAt ? now - StoredAt : TimeSpan.Zero);

    /// <summary>
    /// When it is dropped: once nothing can be served from it any more, or, when it has validators, some time later so
    /// that it can still be revalidated (RFC 9111 §4.3.1).
    /// </summary>
    public DateTimeOffset ExpiresAt
    {
        get
        {
            var servable = Max(FreshUntil, Max(StaleWhileRevalidateUntil, StaleIfErrorUntil));
            return HasValidators ? servable + CacheabilityRules.ValidatorRetention : servable;
        }
    }

    public bool HasValidators => CacheabilityRules.Header(this, "ETag") is not null || CacheabilityRules.Header(this, "Last-Modified") is not null;

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
            writer.Write((long)InitialAge.TotalMilliseconds);
            writer.Write(Target);
            writer.Write(Variant);
            writer.Write(VaryNames.Length);
            foreach (var name in VaryNames)
            {
                writer.Write(name);
            }
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
            var initialAge = TimeSpan.FromMilliseconds(reader.ReadInt64());
            var target = reader.ReadString();
            var variant = reader.ReadString();
            var varyNames = new string[reader.ReadInt32()];
            for (var i = 0; i < varyNames.Length; i++)
            {
                varyNames[i] = reader.ReadString();
            }
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
                InitialAge = initialAge, Target = target, Variant = variant, VaryNames = varyNames,
            };
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}

using System.Text;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Portico.Gateway.Tests.Transcoding.Protos;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.Tests.Transcoding;

/// <summary>
/// The dynamic codec against Google.Protobuf's own JSON mapping, over thousands of random messages of a type with every
/// kind of field: (a) JsonFormatter's JSON read by the codec gives the same message as the generated type, and (b) the
/// codec's JSON of the wire bytes is read by JsonParser into the same message. The codec sees only descriptors built at
/// run time from the file's bytes, as it does for a service known by reflection. A failure prints the seed.
/// </summary>
public sealed class GrpcJsonCodecTests(ITestOutputHelper output)
{
    private const int Cases = 3000;

    /// <summary>Everything, as the gateway would know it: built from serialized descriptors, with no generated type behind it.</summary>
    private static readonly (MessageDescriptor Everything, GrpcJsonSettings Settings) Dynamic = BuildDynamic();

    private static readonly TypeRegistry Registry = TypeRegistry.FromMessages(Thing.Descriptor, Timestamp.Descriptor, Duration.Descriptor,
        Int32Value.Descriptor, Empty.Descriptor, Struct.Descriptor, Value.Descriptor, FieldMask.Descriptor, Everything.Descriptor);

    private static (MessageDescriptor, GrpcJsonSettings) BuildDynamic()
    {
        var ordered = new List<FileDescriptor>();
        void Visit(FileDescriptor file)
        {
            foreach (var dependency in file.Dependencies)
            {
                Visit(dependency);
            }
            if (!ordered.Contains(file))
            {
                ordered.Add(file);
            }
        }
        Visit(ThingsReflection.Descriptor);
        var built = FileDescriptor.BuildFromByteStrings(ordered.Select(f => f.SerializedData), new ExtensionRegistry { AnnotationsExtensions.Http });
        var everything = built.Single(f => f.Name == ThingsReflection.Descriptor.Name).MessageTypes.Single(m => m.Name == "Everything");
        return (everything, new GrpcJsonSettings { Types = TypeRegistry.FromFiles(built) });
    }

    private static int NewSeed() => Environment.GetEnvironmentVariable("PORTICO_CODEC_SEED") is { } fixedSeed
        ? int.Parse(fixedSeed, System.Globalization.CultureInfo.InvariantCulture)
        : Random.Shared.Next();

    [Fact]
    public void JsonFromJsonFormatter_ReadByTheCodec_GivesTheSameMessage()
    {
        var seed = NewSeed();
        var random = new Random(seed);
        var withDefaults = new JsonFormatter(JsonFormatter.Settings.Default.WithTypeRegistry(Registry).WithFormatDefaultValues(true));
        var plain = new JsonFormatter(JsonFormatter.Settings.Default.WithTypeRegistry(Registry));
        for (var i = 0; i < Cases; i++)
        {
            var message = RandomEverything(random);
            var json = (i % 2 == 0 ? plain : withDefaults).Format(message);
            try
            {
                var bytes = GrpcJsonReader.ToProtobuf(Encoding.UTF8.GetBytes(json), Dynamic.Everything, Dynamic.Settings);
                var parsed = Everything.Parser.ParseFrom(bytes);
                if (!parsed.Equals(message))
                {
                    Assert.Fail($"case {i} of seed {seed} (PORTICO_CODEC_SEED): the codec read\n{json}\nas\n{plain.Format(parsed)}");
                }
            }
            catch (GrpcJsonException ex)
            {
                Assert.Fail($"case {i} of seed {seed} (PORTICO_CODEC_SEED): the codec refused\n{json}\n{ex.Message}");
            }
        }
        output.WriteLine($"{Cases} messages, seed {seed}");
    }

    [Fact]
    public void JsonFromTheCodec_ReadByJsonParser_GivesTheSameMessage()
    {
        var seed = NewSeed();
        var random = new Random(seed);
        var parser = new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(Registry));
        for (var i = 0; i < Cases; i++)
        {
            var message = RandomEverything(random);
            var settings = Dynamic.Settings with { FormatDefaultValues = i % 2 == 1 };
            string json;
            try
            {
                json = GrpcJsonWriter.ToJson(message.ToByteArray(), Dynamic.Everything, settings);
            }
            catch (GrpcJsonException ex)
            {
                Assert.Fail($"case {i} of seed {seed} (PORTICO_CODEC_SEED): the codec could not write {message}\n{ex.Message}");
                return;
            }
            Everything parsed;
            try
            {
                parsed = parser.Parse<Everything>(json);
            }
            catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException)
            {
                Assert.Fail($"case {i} of seed {seed} (PORTICO_CODEC_SEED): JsonParser refused the codec's\n{json}\n{ex.Message}");
                return;
            }
            if (!parsed.Equals(message))
            {
                Assert.Fail($"case {i} of seed {seed} (PORTICO_CODEC_SEED): the codec wrote\n{json}\nfor\n{message}");
            }
        }
        output.WriteLine($"{Cases} messages, seed {seed}");
    }

    [Fact]
    public void Wire_WithARepeatedSingularField_TheLastScalarWins_AndMessagePartsMerge()
    {
        var first = new Everything { FInt32 = 1, FThing = new Thing { Id = 1, Name = "a" } }.ToByteArray();
        var second = new Everything { FInt32 = 2, FThing = new Thing { Name = "b", Color = Color.Red } }.ToByteArray();

        var json = GrpcJsonWriter.ToJson([.. first, .. second], Dynamic.Everything, Dynamic.Settings);

        Assert.Equal(Everything.Parser.ParseFrom([.. first, .. second]), Everything.Parser.ParseJson(json));
        Assert.Contains("\"fInt32\":2", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Wire_NestedDeeperThanTheLimit_IsRefused_NotAStackOverflow()
    {
        var thing = new Thing { Id = 1 };
        for (var i = 0; i < 150; i++)
        {
            thing = new Thing { Parts = { thing } };
        }

        var error = Assert.Throws<GrpcJsonException>(() => GrpcJsonWriter.ToJson(thing.ToByteArray(), Dynamic.Everything.File.MessageTypes.Single(m => m.Name == "Thing"), Dynamic.Settings));

        Assert.Contains("nests more than 100 messages deep", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"fInt32": "abc"}""", "'fInt32' must be an integer, not 'abc'")]
    [InlineData("""{"fInt32": 2147483648}""", "'fInt32' is out of range for int32")]
    [InlineData("""{"fUint32": -1}""", "'fUint32' is out of range for uint32")]
    [InlineData("""{"fInt64": 1.5}""", "'fInt64' must be an integer")]
    [InlineData("""{"fFloat": 1e39}""", "'fFloat' is out of range for a float")]
    [InlineData("""{"fBool": "yes"}""", "'fBool' must be true or false")]
    [InlineData("""{"fString": 5}""", "'fString' must be a string, not a number")]
    [InlineData("""{"fBytes": "***"}""", "'fBytes' is not valid base64")]
    [InlineData("""{"fColor": "PURPLE"}""", "'fColor' must be a value of portico.test.v1.Color, not 'PURPLE'")]
    [InlineData("""{"nope": 1}""", "'nope' is not a field of portico.test.v1.Everything")]
    [InlineData("""{"fThing": {"parts": [{"id": "x"}]}}""", "'fThing.parts[0].id' must be an integer")]
    [InlineData("""{"mInt32": {"x": "a"}}""", "'mInt32[\"x\"]' must be an integer, not 'x'")]
    [InlineData("""{"cString": "a", "cInt64": 1}""", "'cInt64' cannot be set with 'cString': oneof 'choice' takes one member")]
    [InlineData("""{"timestamp": "yesterday"}""", "'timestamp' must be an RFC 3339 timestamp")]
    [InlineData("""{"duration": "5 minutes"}""", "'duration' must be a duration")]
    [InlineData("""{"any": {"@type": "type.googleapis.com/nope.Nope"}}""", "'any' names a type the gateway does not know")]
    [InlineData("""{"fInt32": 1, "f_int32": 2}""", "'fInt32' must be given once")]
    [InlineData("""{"fInt32": 1""", "is not valid JSON")]
    [InlineData("""{"rInt32": [1, null]}""", "'rInt32[1]' cannot be null")]
    public void BadJson_IsRefused_NamingTheField(string json, string expected)
    {
        var error = Assert.Throws<GrpcJsonException>(() => GrpcJsonReader.ToProtobuf(Encoding.UTF8.GetBytes(json), Dynamic.Everything, Dynamic.Settings));

        output.WriteLine(error.Message);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ProtoNames_Strings_ForNumbers_AndUrlSafeBase64_AreAccepted()
    {
        var bytes = GrpcJsonReader.ToProtobuf("""
            {"f_int64": "-12", "fUint64": 18446744073709551615, "f_double": "NaN", "fFloat": "-Infinity", "fBytes": "-_8", "fColor": 2, "fSint32": "1e2"}
            """u8, Dynamic.Everything, Dynamic.Settings);

        var message = Everything.Parser.ParseFrom(bytes);
        Assert.Equal((-12L, ulong.MaxValue, Color.Green, 100), (message.FInt64, message.FUint64, message.FColor, message.FSint32));
        Assert.True(double.IsNaN(message.FDouble));
        Assert.Equal(float.NegativeInfinity, message.FFloat);
        Assert.Equal(new byte[] { 0xfb, 0xff }, message.FBytes.ToByteArray());
    }

    [Fact]
    public void UnknownFields_AreSkipped_WhenTheSettingsSaySo()
    {
        var bytes = GrpcJsonReader.ToProtobuf("""{"nope": {"a": [1]}, "fInt32": 3, "fColor": "PURPLE"}"""u8, Dynamic.Everything,
            Dynamic.Settings with { IgnoreUnknownFields = true });

        Assert.Equal(new Everything { FInt32 = 3 }, Everything.Parser.ParseFrom(bytes));
    }

    private static Everything RandomEverything(Random random)
    {
        var m = new Everything();
        bool Some(int percent = 40) => random.Next(100) < percent;
        void Maybe(Action set)
        {
            if (Some())
            {
                set();
            }
        }
        Maybe(() => m.FDouble = RandomDouble(random));
        Maybe(() => m.FFloat = RandomFloat(random));
        Maybe(() => m.FInt32 = RandomInt(random));
        Maybe(() => m.FInt64 = RandomLong(random));
        Maybe(() => m.FUint32 = (uint)RandomInt(random));
        Maybe(() => m.FUint64 = (ulong)RandomLong(random));
        Maybe(() => m.FSint32 = RandomInt(random));
        Maybe(() => m.FSint64 = RandomLong(random));
        Maybe(() => m.FFixed32 = (uint)RandomInt(random));
        Maybe(() => m.FFixed64 = (ulong)RandomLong(random));
        Maybe(() => m.FSfixed32 = RandomInt(random));
        Maybe(() => m.FSfixed64 = RandomLong(random));
        Maybe(() => m.FBool = Some(50));
        Maybe(() => m.FString = RandomString(random));
        Maybe(() => m.FBytes = RandomBytes(random));
        Maybe(() => m.FColor = RandomColor(random));
        Maybe(() => m.FThing = RandomThing(random, 2));
        Maybe(() => m.OInt32 = Some(20) ? 0 : RandomInt(random));
        Maybe(() => m.OString = Some(20) ? "" : RandomString(random));
        Maybe(() => m.OColor = RandomColor(random));

        Maybe(() => m.RDouble.AddRange(Many(random, () => RandomDouble(random))));
        Maybe(() => m.RFloat.AddRange(Many(random, () => RandomFloat(random))));
        Maybe(() => m.RInt32.AddRange(Many(random, () => RandomInt(random))));
        Maybe(() => m.RInt64.AddRange(Many(random, () => RandomLong(random))));
        Maybe(() => m.RUint32.AddRange(Many(random, () => (uint)RandomInt(random))));
        Maybe(() => m.RUint64.AddRange(Many(random, () => (ulong)RandomLong(random))));
        Maybe(() => m.RSint32.AddRange(Many(random, () => RandomInt(random))));
        Maybe(() => m.RSint64.AddRange(Many(random, () => RandomLong(random))));
        Maybe(() => m.RFixed32.AddRange(Many(random, () => (uint)RandomInt(random))));
        Maybe(() => m.RFixed64.AddRange(Many(random, () => (ulong)RandomLong(random))));
        Maybe(() => m.RSfixed32.AddRange(Many(random, () => RandomInt(random))));
        Maybe(() => m.RSfixed64.AddRange(Many(random, () => RandomLong(random))));
        Maybe(() => m.RBool.AddRange(Many(random, () => Some(50))));
        Maybe(() => m.RString.AddRange(Many(random, () => RandomString(random))));
        Maybe(() => m.RBytes.AddRange(Many(random, () => RandomBytes(random))));
        Maybe(() => m.RColor.AddRange(Many(random, () => RandomColor(random))));
        Maybe(() => m.RThing.AddRange(Many(random, () => RandomThing(random, 1))));

        Maybe(() => Fill(m.MInt32, random, () => RandomInt(random), () => RandomString(random)));
        Maybe(() => Fill(m.MInt64, random, () => RandomLong(random), () => RandomLong(random)));
        Maybe(() => Fill(m.MUint32, random, () => (uint)RandomInt(random), () => RandomBytes(random)));
        Maybe(() => Fill(m.MUint64, random, () => (ulong)RandomLong(random), () => RandomDouble(random)));
        Maybe(() => Fill(m.MSint32, random, () => RandomInt(random), () => RandomColor(random)));
        Maybe(() => Fill(m.MSint64, random, () => RandomLong(random), () => RandomThing(random, 1)));
        Maybe(() => Fill(m.MFixed32, random, () => (uint)RandomInt(random), () => RandomFloat(random)));
        Maybe(() => Fill(m.MFixed64, random, () => (ulong)RandomLong(random), () => Some(50)));
        Maybe(() => Fill(m.MSfixed32, random, () => RandomInt(random), () => (ulong)RandomLong(random)));
        Maybe(() => Fill(m.MSfixed64, random, () => RandomLong(random), () => RandomInt(random)));
        Maybe(() => Fill(m.MBool, random, () => Some(50), () => RandomString(random)));
        Maybe(() => Fill(m.MString, random, () => RandomString(random), () => RandomThing(random, 1)));
        Maybe(() => Fill(m.MValue, random, () => RandomString(random), () => RandomValue(random, 2)));

        switch (random.Next(6))
        {
            case 0: m.CString = RandomString(random); break;
            case 1: m.CThing = RandomThing(random, 1); break;
            case 2: m.CInt64 = RandomLong(random); break;
            case 3: m.CColor = RandomColor(random); break;
            case 4: m.CTimestamp = RandomTimestamp(random); break;
        }

        Maybe(() => m.Timestamp = RandomTimestamp(random));
        Maybe(() => m.Duration = RandomDuration(random));
        Maybe(() => m.WDouble = RandomDouble(random));
        Maybe(() => m.WFloat = RandomFloat(random));
        Maybe(() => m.WInt64 = RandomLong(random));
        Maybe(() => m.WUint64 = (ulong)RandomLong(random));
        Maybe(() => m.WInt32 = RandomInt(random));
        Maybe(() => m.WUint32 = (uint)RandomInt(random));
        Maybe(() => m.WBool = Some(50));
        Maybe(() => m.WString = RandomString(random));
        Maybe(() => m.WBytes = RandomBytes(random));
        Maybe(() => m.Struct = RandomStruct(random, 2));
        Maybe(() => m.Value = RandomValue(random, 2));
        Maybe(() => m.List = RandomList(random, 2));
        Maybe(() => m.Mask = RandomMask(random));
        Maybe(() => m.Any = RandomAny(random));
        Maybe(() => m.Empty = new Empty());
        Maybe(() => m.RTimestamp.AddRange(Many(random, () => RandomTimestamp(random))));
        Maybe(() => m.RAny.AddRange(Many(random, () => RandomAny(random))));
        Maybe(() => m.RWrapper.AddRange(Many(random, () => (int?)RandomInt(random))));
        return m;
    }

    private static IEnumerable<T> Many<T>(Random random, Func<T> make) => Enumerable.Range(0, random.Next(5)).Select(_ => make()).ToList();

    private static void Fill<TKey, TValue>(Google.Protobuf.Collections.MapField<TKey, TValue> map, Random random, Func<TKey> key, Func<TValue> value)
        where TKey : notnull
    {
        for (var i = random.Next(4); i > 0; i--)
        {
            map[key()] = value();
        }
    }

    private static double RandomDouble(Random random) => random.Next(10) switch
    {
        0 => double.NaN,
        1 => random.Next(2) == 0 ? double.PositiveInfinity : double.NegativeInfinity,
        2 => double.MaxValue * (random.Next(2) == 0 ? 1 : -1),
        3 => double.Epsilon,
        4 => random.Next(-1000, 1000),
        5 => 0,
        _ => FiniteFromBits(random),
    };

    private static double FiniteFromBits(Random random)
    {
        var value = BitConverter.Int64BitsToDouble(random.NextInt64());
        return double.IsFinite(value) ? value : random.NextDouble();
    }

    private static float RandomFloat(Random random) => random.Next(8) switch
    {
        0 => float.NaN,
        1 => float.PositiveInfinity,
        2 => float.MaxValue,
        3 => float.Epsilon,
        4 => random.Next(-1000, 1000) / 8f,
        _ => (float)(random.NextDouble() * Math.Pow(10, random.Next(-30, 30)) * (random.Next(2) == 0 ? 1 : -1)),
    };

    private static int RandomInt(Random random) => random.Next(5) switch
    {
        0 => int.MinValue,
        1 => int.MaxValue,
        2 => random.Next(-100, 100),
        _ => random.Next(int.MinValue, int.MaxValue),
    };

    private static long RandomLong(Random random) => random.Next(5) switch
    {
        0 => long.MinValue,
        1 => long.MaxValue,
        2 => random.Next(-100, 100),
        _ => random.NextInt64(long.MinValue, long.MaxValue),
    };

    private static readonly string[] Pieces = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u0001", "é", "한", "漢", "😀", "\u2028", "<>&'", "%20", "."];

    private static string RandomString(Random random)
    {
        var text = new StringBuilder();
        for (var i = random.Next(8); i > 0; i--)
        {
            text.Append(Pieces[random.Next(Pieces.Length)]);
        }
        return text.ToString();
    }

    private static ByteString RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(12)];
        random.NextBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }

    private static Color RandomColor(Random random) => random.Next(5) switch
    {
        0 => Color.Unspecified,
        1 => Color.Red,
        2 => Color.Green,
        3 => Color.Ultraviolet,
        _ => (Color)7, // a number the enum does not name: written and read as a number
    };

    private static Thing RandomThing(Random random, int depth)
    {
        var thing = new Thing { Id = random.Next(3) == 0 ? 0 : RandomLong(random), Name = RandomString(random), Color = RandomColor(random) };
        if (depth > 0)
        {
            thing.Parts.AddRange(Many(random, () => RandomThing(random, depth - 1)));
        }
        return thing;
    }

    private static Timestamp RandomTimestamp(Random random) => new()
    {
        Seconds = random.NextInt64(-62135596800, 253402300800),
        Nanos = random.Next(4) switch { 0 => 0, 1 => random.Next(1000) * 1_000_000, 2 => random.Next(1_000_000) * 1000, _ => random.Next(1_000_000_000) },
    };

    private static Duration RandomDuration(Random random)
    {
        var seconds = random.NextInt64(-315576000000, 315576000001);
        var nanos = random.Next(1_000_000_000);
        return new Duration { Seconds = seconds, Nanos = seconds < 0 ? -nanos : seconds > 0 ? nanos : random.Next(2) == 0 ? nanos : -nanos };
    }

    private static FieldMask RandomMask(Random random)
    {
        var mask = new FieldMask();
        for (var i = random.Next(4); i > 0; i--)
        {
            mask.Paths.Add(string.Join('.', Enumerable.Range(0, random.Next(1, 3)).Select(_ =>
                string.Join('_', Enumerable.Range(0, random.Next(1, 3)).Select(_ => new string((char)('a' + random.Next(26)), random.Next(1, 4)))))));
        }
        return mask;
    }

    private static Value RandomValue(Random random, int depth) => random.Next(depth > 0 ? 6 : 4) switch
    {
        0 => Value.ForNull(),
        1 => Value.ForNumber(random.Next(3) == 0 ? random.Next(-50, 50) : FiniteFromBits(random)),
        2 => Value.ForString(RandomString(random)),
        3 => Value.ForBool(random.Next(2) == 0),
        4 => Value.ForStruct(RandomStruct(random, depth - 1)),
        _ => Value.ForList([.. Many(random, () => RandomValue(random, depth - 1))]),
    };

    private static Struct RandomStruct(Random random, int depth)
    {
        var value = new Struct();
        for (var i = random.Next(4); i > 0; i--)
        {
            value.Fields["k" + RandomString(random)] = RandomValue(random, depth); // JsonFormatter refuses an empty Struct key
        }
        return value;
    }

    private static ListValue RandomList(Random random, int depth)
    {
        var list = new ListValue();
        list.Values.AddRange(Many(random, () => RandomValue(random, depth)));
        return list;
    }

    private static Any RandomAny(Random random) => random.Next(7) switch
    {
        0 => Any.Pack(RandomThing(random, 1)),
        1 => Any.Pack(RandomTimestamp(random)),
        2 => Any.Pack(RandomDuration(random)),
        3 => Any.Pack(new Int32Value { Value = RandomInt(random) }),
        4 => Any.Pack(new Empty()),
        5 => Any.Pack(RandomStruct(random, 1)),
        _ => Any.Pack(RandomMask(random)),
    };
}

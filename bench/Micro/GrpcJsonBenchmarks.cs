using System.Buffers;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Portico.Gateway.Tests.Transcoding.Protos;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.Benchmarks;

/// <summary>
/// The transcoding codec (descriptors only, as for a service known by reflection) against Google.Protobuf's generated
/// path, on one message of about 1 KB: JSON → wire bytes (JsonParser then ToByteArray, against GrpcJsonReader), and wire
/// bytes → JSON (ParseFrom then JsonFormatter, against GrpcJsonWriter to a string and to UTF-8 bytes).
/// </summary>
[MemoryDiagnoser]
public class GrpcJsonBenchmarks
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default);
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default);

    private MessageDescriptor _dynamic = null!;
    private GrpcJsonSettings _settings = null!;
    private byte[] _json = null!;
    private string _jsonText = null!;
    private byte[] _wire = null!;
    private readonly ArrayBufferWriter<byte> _output = new(4096);

    [GlobalSetup]
    public void Setup()
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
        _dynamic = built.Last().MessageTypes.Single(m => m.Name == "Everything");
        _settings = new GrpcJsonSettings { Types = TypeRegistry.FromFiles(built) };

        var message = new Everything
        {
            FDouble = 3.25, FInt32 = -17, FInt64 = 9_007_199_254_740_993, FUint64 = 12345678901234567890, FBool = true,
            FString = "a product name of some length", FColor = Color.Green, FBytes = ByteString.CopyFromUtf8("opaque bytes"),
            Timestamp = Timestamp.FromDateTime(new DateTime(2026, 12, 3, 10, 0, 0, DateTimeKind.Utc)), Duration = Duration.FromTimeSpan(TimeSpan.FromSeconds(1.5)),
            WString = "wrapped", CString = "chosen",
        };
        message.RInt64.AddRange(Enumerable.Range(1, 20).Select(i => (long)i * 1_000_003));
        message.RString.AddRange(Enumerable.Range(1, 8).Select(i => "tag-" + i));
        for (var i = 0; i < 6; i++)
        {
            message.RThing.Add(new Thing { Id = i, Name = "part number " + i, Color = Color.Red });
            message.MString["key" + i] = new Thing { Id = 100 + i, Name = "mapped " + i };
        }
        _wire = message.ToByteArray();
        _jsonText = Formatter.Format(message);
        _json = Encoding.UTF8.GetBytes(_jsonText);
        if (!Everything.Parser.ParseFrom(GrpcJsonReader.ToProtobuf(_json, _dynamic, _settings)).Equals(message))
        {
            throw new InvalidOperationException("the codec does not agree with Google.Protobuf on the benchmark message");
        }
        Console.WriteLine($"// message: {_wire.Length} bytes on the wire, {_json.Length} bytes of JSON");
    }

    [Benchmark(Baseline = true, Description = "JSON → wire: JsonParser + ToByteArray (generated type)")]
    public byte[] ParseGenerated() => Parser.Parse<Everything>(_jsonText).ToByteArray();

    [Benchmark(Description = "JSON → wire: GrpcJsonReader (descriptors only)")]
    public byte[] ParseDynamic() => GrpcJsonReader.ToProtobuf(_json, _dynamic, _settings);

    [Benchmark(Description = "wire → JSON: ParseFrom + JsonFormatter (generated type)")]
    public string FormatGenerated() => Formatter.Format(Everything.Parser.ParseFrom(_wire));

    [Benchmark(Description = "wire → JSON: GrpcJsonWriter to a string (descriptors only)")]
    public string FormatDynamic() => GrpcJsonWriter.ToJson(_wire, _dynamic, _settings);

    [Benchmark(Description = "wire → JSON: GrpcJsonWriter to UTF-8, as the gateway writes the answer")]
    public int FormatDynamicUtf8()
    {
        _output.ResetWrittenCount();
        using var writer = new Utf8JsonWriter(_output);
        GrpcJsonWriter.Write(writer, _wire, 0, _wire.Length, _dynamic, _settings);
        writer.Flush();
        return _output.WrittenCount;
    }
}

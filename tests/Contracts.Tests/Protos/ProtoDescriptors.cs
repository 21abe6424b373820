using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Portico.Contracts.Loyalty.V1;

namespace Portico.Contracts.Tests.Protos;

/// <summary>
/// Portico's <c>.proto</c> files as compiled into <c>Portico.Contracts</c>, and their baseline form: a
/// <c>FileDescriptorSet</c> (the <c>.binpb</c> that <c>buf build</c> and <c>protoc --descriptor_set_out</c> write) holding
/// each file and, before it, every file it imports, so it can be linked again without the generated code.
/// </summary>
public static class ProtoDescriptors
{
    // The options the comparer reads (google.api.http) are extensions: parsed only when registered.
    private static readonly ExtensionRegistry Extensions = [AnnotationsExtensions.Http];

    /// <summary>Whether a file is one of ours rather than an import (google/api, google/protobuf).</summary>
    public static bool IsPortico(FileDescriptor file) => !file.Name.StartsWith("google/", StringComparison.Ordinal);

    /// <summary>Every file compiled into Portico.Contracts (each has a generated <c>…Reflection.Descriptor</c>), by name.</summary>
    public static IReadOnlyList<FileDescriptor> Current() =>
        typeof(LoyaltyReflection).Assembly.GetTypes()
            .Select(type => type.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static))
            .Where(property => property?.PropertyType == typeof(FileDescriptor))
            .Select(property => (FileDescriptor)property!.GetValue(null)!)
            .Where(IsPortico)
            .OrderBy(file => file.Name, StringComparer.Ordinal)
            .ToList();

    /// <summary>The files and their imports, each import before the files that use it.</summary>
    public static FileDescriptorSet ToSet(IEnumerable<FileDescriptor> files)
    {
        var set = new FileDescriptorSet();
        var added = new HashSet<string>(StringComparer.Ordinal);
        void Add(FileDescriptor file)
        {
            if (!added.Add(file.Name))
            {
                return;
            }
            foreach (var dependency in file.Dependencies)
            {
                Add(dependency);
            }
            set.File.Add(FileDescriptorProto.Parser.WithExtensionRegistry(Extensions).ParseFrom(file.SerializedData));
        }
        foreach (var file in files)
        {
            Add(file);
        }
        return set;
    }

    /// <summary>Links a set again and returns Portico's files of it.</summary>
    public static IReadOnlyList<FileDescriptor> Load(FileDescriptorSet set) =>
        FileDescriptor.BuildFromByteStrings(set.File.Select(file => file.ToByteString()), Extensions).Where(IsPortico).ToList();

    public static FileDescriptorSet Read(byte[] bytes) => FileDescriptorSet.Parser.WithExtensionRegistry(Extensions).ParseFrom(bytes);

    /// <summary>Portico's files of a set as indented proto3 JSON: the readable copy of the baseline that review sees.</summary>
    public static string ToReadableJson(FileDescriptorSet set)
    {
        var ours = new FileDescriptorSet();
        ours.File.AddRange(set.File.Where(file => !file.Name.StartsWith("google/", StringComparison.Ordinal)));
        var json = JsonNode.Parse(JsonFormatter.Default.Format(ours))!;
        // The JSON mapping leaves extensions out, and google.api.http is the REST contract: written in as protoc names it.
        foreach (var (file, f) in ours.File.Select((file, f) => (file, f)))
        {
            foreach (var (service, s) in file.Service.Select((service, s) => (service, s)))
            {
                foreach (var (method, m) in service.Method.Select((method, m) => (method, m)))
                {
                    if (method.Options?.GetExtension(AnnotationsExtensions.Http) is { } rule)
                    {
                        json["file"]![f]!["service"]![s]!["method"]![m]!["options"] = new JsonObject { ["[google.api.http]"] = JsonNode.Parse(JsonFormatter.Default.Format(rule)) };
                    }
                }
            }
        }
        return json.ToJsonString(Indented) + "\n";
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}

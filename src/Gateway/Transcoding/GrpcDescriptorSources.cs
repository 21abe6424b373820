using Google.Api;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace Portico.Gateway.Transcoding;

/// <summary>
/// Where a service's descriptors come from at run time: gRPC server reflection on its cluster (<c>grpc.reflection.v1</c>,
/// else <c>v1alpha</c>), or a descriptor-set file (<c>protoc --descriptor_set_out --include_imports</c>, <c>.binpb</c>).
/// Either way the files are built with <see cref="FileDescriptor.BuildFromByteStrings(IEnumerable{ByteString}, ExtensionRegistry)"/>,
/// with <c>google.api.http</c> known so that the methods' HTTP rules can be read.
/// </summary>
internal sealed class GrpcDescriptorSources(GrpcCaller caller, TimeProvider time)
{
    /// <summary>How long one reflection exchange may take (a real deadline: Grpc.Net.Client enforces it).</summary>
    private static readonly TimeSpan ReflectionDeadline = TimeSpan.FromSeconds(10);

    private const int MaxRounds = 16;

    private static readonly ExtensionRegistry Extensions = new() { AnnotationsExtensions.Http };

    public async Task<GrpcService> LoadAsync(TranscodedService entry, CancellationToken cancellationToken) => entry.DescriptorSet is { } path
        ? FromFile(entry.Name, path, time.GetUtcNow())
        : await FromReflectionAsync(entry.Name, entry.Cluster, cancellationToken);

    /// <summary>The service from a descriptor-set file, which must hold its file and every file that one imports.</summary>
    public static GrpcService FromFile(string service, string path, DateTimeOffset now)
    {
        var set = FileDescriptorSet.Parser.ParseFrom(File.ReadAllBytes(path));
        var files = new Dictionary<string, FileDescriptorProto>(StringComparer.Ordinal);
        foreach (var file in set.File)
        {
            files.TryAdd(file.Name, file);
        }
        return Build(service, files, "file " + Path.GetFileName(path), now);
    }

    private async Task<GrpcService> FromReflectionAsync(string service, string cluster, CancellationToken cancellationToken)
    {
        var invoker = caller.Invoker(cluster, idempotent: true);
        Dictionary<string, FileDescriptorProto> files;
        try
        {
            files = await CollectAsync(service, asks => AskV1Async(invoker, asks, cancellationToken));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
        {
            files = await CollectAsync(service, asks => AskV1AlphaAsync(invoker, asks, cancellationToken));
        }
        return Build(service, files, "reflection", time.GetUtcNow());
    }

    /// <summary>One question to a reflection service: the file defining a symbol, or a file by name.</summary>
    private readonly record struct Ask(string? Symbol, string? FileName);

    /// <summary>
    /// The file defining the service, then (in further rounds) any imported file the server did not send with it. Each
    /// round is one call whose requests are all written before the answers are read, so it is an ordinary request
    /// body for the cluster client.
    /// </summary>
    private static async Task<Dictionary<string, FileDescriptorProto>> CollectAsync(string service, Func<IReadOnlyList<Ask>, Task<List<ByteString>>> ask)
    {
        var files = new Dictionary<string, FileDescriptorProto>(StringComparer.Ordinal);
        IReadOnlyList<Ask> asks = [new Ask(service, null)];
        for (var round = 0; round < MaxRounds && asks.Count > 0; round++)
        {
            foreach (var bytes in await ask(asks))
            {
                var file = FileDescriptorProto.Parser.ParseFrom(bytes);
                files.TryAdd(file.Name, file);
            }
            asks = [.. files.Values.SelectMany(f => f.Dependency).Where(d => !files.ContainsKey(d)).Distinct().Select(d => new Ask(null, d))];
        }
        return files;
    }

    private static async Task<List<ByteString>> AskV1Async(CallInvoker invoker, IReadOnlyList<Ask> asks, CancellationToken cancellationToken)
    {
        using var call = new V1.ServerReflection.ServerReflectionClient(invoker)
            .ServerReflectionInfo(deadline: DateTime.UtcNow + ReflectionDeadline, cancellationToken: cancellationToken);
        foreach (var ask in asks)
        {
            await call.RequestStream.WriteAsync(ask.Symbol is { } symbol
                ? new V1.ServerReflectionRequest { FileContainingSymbol = symbol }
                : new V1.ServerReflectionRequest { FileByFilename = ask.FileName }, cancellationToken);
        }
        await call.RequestStream.CompleteAsync();
        var files = new List<ByteString>();
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            if (response.ErrorResponse is { } error)
            {
                throw new InvalidOperationException($"reflection answered {(StatusCode)error.ErrorCode}: {error.ErrorMessage}");
            }
            files.AddRange(response.FileDescriptorResponse?.FileDescriptorProto ?? []);
        }
        return files;
    }

    private static async Task<List<ByteString>> AskV1AlphaAsync(CallInvoker invoker, IReadOnlyList<Ask> asks, CancellationToken cancellationToken)
    {
        using var call = new V1Alpha.ServerReflection.ServerReflectionClient(invoker)
            .ServerReflectionInfo(deadline: DateTime.UtcNow + ReflectionDeadline, cancellationToken: cancellationToken);
        foreach (var ask in asks)
        {
            await call.RequestStream.WriteAsync(ask.Symbol is { } symbol
                ? new V1Alpha.ServerReflectionRequest { FileContainingSymbol = symbol }
                : new V1Alpha.ServerReflectionRequest { FileByFilename = ask.FileName }, cancellationToken);
        }
        await call.RequestStream.CompleteAsync();
        var files = new List<ByteString>();
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            if (response.ErrorResponse is { } error)
            {
                throw new InvalidOperationException($"reflection answered {(StatusCode)error.ErrorCode}: {error.ErrorMessage}");
            }
            files.AddRange(response.FileDescriptorResponse?.FileDescriptorProto ?? []);
        }
        return files;
    }

    /// <summary>Builds the files, each after the files it imports, and finds the service among them.</summary>
    private static GrpcService Build(string service, Dictionary<string, FileDescriptorProto> files, string source, DateTimeOffset now)
    {
        var ordered = new List<ByteString>();
        var placed = new HashSet<string>(StringComparer.Ordinal);
        void Place(string name, int depth)
        {
            if (placed.Contains(name))
            {
                return;
            }
            if (!files.TryGetValue(name, out var file) || depth > 100)
            {
                throw new InvalidOperationException($"the descriptors lack '{name}', which another file imports");
            }
            foreach (var dependency in file.Dependency)
            {
                Place(dependency, depth + 1);
            }
            placed.Add(name);
            ordered.Add(file.ToByteString());
        }
        foreach (var name in files.Keys)
        {
            Place(name, 0);
        }
        var built = FileDescriptor.BuildFromByteStrings(ordered, Extensions);
        var descriptor = built.SelectMany(f => f.Services).FirstOrDefault(s => s.FullName == service)
            ?? throw new InvalidOperationException($"the descriptors have no service '{service}'");
        return GrpcService.From(descriptor, built, source, now);
    }
}

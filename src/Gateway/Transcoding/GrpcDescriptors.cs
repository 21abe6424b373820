using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Primitives;

namespace Portico.Gateway.Transcoding;

/// <summary>A file of gRPC contracts compiled into the host: its generated descriptor (<c>FooReflection.Descriptor</c>).</summary>
public sealed record GrpcContractSource(FileDescriptor File);

/// <summary>
/// One gRPC service the gateway can call: its descriptor, the codec settings for its messages (an <c>Any</c> may hold
/// any type of the files it came with), where it came from and when.
/// </summary>
internal sealed record GrpcService(ServiceDescriptor Descriptor, GrpcJsonSettings Json, string Source, DateTimeOffset LoadedAt)
{
    public static GrpcService From(ServiceDescriptor service, IEnumerable<FileDescriptor> files, string source, DateTimeOffset loadedAt) =>
        // google.rpc's error details too, for the Any values of a google.rpc.Status the service sends with an error.
        new(service, new GrpcJsonSettings { Types = TypeRegistry.FromFiles(files.Append(Google.Rpc.ErrorDetailsReflection.Descriptor)) }, source, loadedAt);

    /// <summary>A unary or server-streaming method by name; client and bidirectional streaming are not callable from REST.</summary>
    public MethodDescriptor? FindMethod(string name) =>
        Descriptor.FindMethodByName(name) is { IsClientStreaming: false } method ? method : null;
}

/// <summary>
/// The gRPC services the gateway knows now: contracts compiled into the host, and the services whose descriptors came
/// at run time (server reflection, descriptor-set files). Readers take one immutable set; a load replaces a service's
/// entry and signals the change, so transcoded routes are rebuilt. A failed load never removes what was loaded before.
/// </summary>
internal sealed class GrpcDescriptors
{
    private readonly Lock _lock = new();
    private ImmutableDictionary<string, GrpcService> _services;
    private CancellationTokenSource _changed = new();

    public GrpcDescriptors(IEnumerable<GrpcContractSource> compiled, TimeProvider time)
    {
        var services = ImmutableDictionary.CreateBuilder<string, GrpcService>(StringComparer.Ordinal);
        var files = compiled.Select(c => c.File).ToList();
        foreach (var file in files)
        {
            foreach (var service in file.Services)
            {
                services[service.FullName] = GrpcService.From(service, files.Concat(file.Dependencies), "compiled", time.GetUtcNow());
            }
        }
        _services = services.ToImmutable();
        Compiled = _services.Keys.ToImmutableHashSet(StringComparer.Ordinal);
    }

    /// <summary>The services the host compiled in; they need no descriptor source in the gateway file.</summary>
    public IImmutableSet<string> Compiled { get; }

    /// <summary>Every known service by full name (<c>package.Service</c>), as of now.</summary>
    public ImmutableDictionary<string, GrpcService> Services => Volatile.Read(ref _services);

    public bool TryGetService(string fullName, [NotNullWhen(true)] out GrpcService? service) => Services.TryGetValue(fullName, out service);

    /// <summary>
    /// A callable method by <c>package.Service/Method</c>, when its service's descriptors are there; false with the
    /// service set when the service is known but has no such method, with it null when the service is not known (yet).
    /// </summary>
    public bool TryGetMethod(string name, out GrpcService? service, [NotNullWhen(true)] out MethodDescriptor? method)
    {
        method = null;
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (!TryGetService(slash < 0 ? name : name[..slash], out service) || slash <= 0)
        {
            return false;
        }
        method = service.FindMethod(name[(slash + 1)..]);
        return method is not null;
    }

    /// <summary>Fires when a service is loaded or replaced.</summary>
    public IChangeToken GetChangeToken() => new CancellationChangeToken(Volatile.Read(ref _changed).Token);

    /// <summary>Puts the descriptors of one service in place (a new service, or a new version of one).</summary>
    public void Set(GrpcService service)
    {
        CancellationTokenSource changed;
        lock (_lock)
        {
            if (_services.TryGetValue(service.Descriptor.FullName, out var current) && SameContract(current, service))
            {
                return; // a refresh that found nothing new rebuilds no route
            }
            Volatile.Write(ref _services, _services.SetItem(service.Descriptor.FullName, service));
            changed = _changed;
            _changed = new CancellationTokenSource();
        }
        changed.Cancel();
    }

    private static bool SameContract(GrpcService a, GrpcService b) => a.Source == b.Source
        && a.Descriptor.File.SerializedData.Equals(b.Descriptor.File.SerializedData)
        && a.Descriptor.File.Dependencies.Select(d => d.SerializedData).SequenceEqual(b.Descriptor.File.Dependencies.Select(d => d.SerializedData));
}

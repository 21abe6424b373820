using Google.Protobuf.Reflection;

namespace Portico.Gateway.Transcoding;

/// <summary>A file of gRPC contracts the gateway may call: its generated descriptor (<c>FooReflection.Descriptor</c>).</summary>
public sealed record GrpcContractSource(FileDescriptor File);

/// <summary>Every gRPC method the gateway knows, by <c>package.Service/Method</c>.</summary>
internal sealed class GrpcContracts
{
    private readonly Dictionary<string, ServiceDescriptor> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MethodDescriptor> _methods = new(StringComparer.Ordinal);

    public GrpcContracts(IEnumerable<GrpcContractSource> sources)
    {
        foreach (var source in sources)
        {
            foreach (var service in source.File.Services)
            {
                _services[service.FullName] = service;
                foreach (var method in service.Methods)
                {
                    _methods[service.FullName + "/" + method.Name] = method;
                }
            }
        }
    }

    public bool TryGetService(string fullName, out ServiceDescriptor service) => _services.TryGetValue(fullName, out service!);

    /// <summary>A unary method by <c>package.Service/Method</c>; streaming methods are not callable from REST.</summary>
    public bool TryGetUnaryMethod(string name, out MethodDescriptor method) =>
        _methods.TryGetValue(name, out method!) && !method.IsClientStreaming && !method.IsServerStreaming;
}

using Google.Protobuf.Reflection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Configuration;
using Portico.Gateway.Transcoding;

namespace Microsoft.Extensions.DependencyInjection;

public static class TranscodingBuilderExtensions
{
    /// <summary>
    /// Registers gRPC contracts compiled into the host — their generated file descriptors — for REST→gRPC transcoding
    /// (<c>Portico:Transcoding:Services</c> in the gateway file) and for composition steps that name a gRPC method
    /// (<c>"Grpc": "package.Service/Method"</c>). Not needed for a service whose gateway-file entry takes its
    /// descriptors from server reflection or a descriptor-set file.
    /// </summary>
    public static IReverseProxyBuilder AddGrpcContracts(this IReverseProxyBuilder builder, params FileDescriptor[] files)
    {
        foreach (var file in files)
        {
            builder.Services.AddSingleton(new GrpcContractSource(file));
        }
        return builder;
    }

    internal static IReverseProxyBuilder AddPorticoTranscoding(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton<GrpcDescriptors>();
        services.TryAddSingleton<GrpcCaller>();
        services.TryAddSingleton<GrpcDescriptorSources>();
        services.TryAddSingleton<GrpcDescriptorRefresher>();
        services.AddHostedService(sp => sp.GetRequiredService<GrpcDescriptorRefresher>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, TranscodingConfigSection>());
        services.AddSingleton(SettingHome.GatewayFile("Portico:Transcoding"));
        services.TryAddSingleton<TranscodingEndpointDataSource>();
        return builder;
    }
}

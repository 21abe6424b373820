using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Composition;
using Portico.Gateway.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

internal static class CompositionBuilderExtensions
{
    /// <summary>
    /// Adds compositions (<c>Portico:Compositions</c> in the gateway file): one endpoint per composition whose
    /// steps call clusters in dependency order, in parallel where they can, with compensation on failure; durable
    /// compositions keep a saga log in the shared store, and every instance runs the recovery worker
    /// (<c>Portico:SagaRecovery</c> in the host settings).
    /// </summary>
    public static IReverseProxyBuilder AddPorticoCompositions(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, CompositionConfigSection>());
        services.TryAddSingleton<CompositionTelemetry>();
        services.TryAddSingleton<CompositionExecutor>();
        services.TryAddSingleton<CompositionEndpointDataSource>();
        services.TryAddSingleton<SagaInputProtector>();
        services.TryAddSingleton<SagaLog>();
        services.TryAddSingleton<SagaRecovery>();
        services.TryAddSingleton<DurableCompositionHandler>();
        services.AddHostSettings<SagaRecoveryOptions, SagaRecoveryOptionsValidator>(SagaRecoveryOptions.SectionName);
        services.AddSingleton(SettingHome.GatewayFile("Portico:Compositions"));
        services.TryAddSingleton<SagaRecoveryService>();
        services.AddHostedService(sp => sp.GetRequiredService<SagaRecoveryService>());
        return builder;
    }
}

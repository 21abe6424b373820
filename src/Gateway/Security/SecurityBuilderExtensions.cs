using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Portico.Gateway.Configuration;
using Portico.Gateway.Security;
using Portico.ServiceDefaults.Hardening;
using Yarp.ReverseProxy.Transforms;

namespace Microsoft.Extensions.DependencyInjection;

internal static class SecurityBuilderExtensions
{
    /// <summary>
    /// Secure by default: a route with no <c>AuthorizationPolicy</c> needs an authenticated caller
    /// (<c>anonymous</c> opens it; <c>user</c> and <c>admin</c> are named policies). Adds the CORS policies of the
    /// gateway file's <c>Portico:Cors:Policies</c> (reloaded with it) and forwards the caller's identity as <c>X-User-Id</c>/<c>X-User-Roles</c>.
    /// Authentication itself (JWT against Identity's JWKS) comes from ServiceDefaults' <c>AddJwtAuthentication</c>.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoSecurity(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.AddHostSettings<SecurityOptions, SecurityOptionsValidator>(SecurityOptions.SectionName);
        services.AddHostSettings<ServiceIdentityOptions, ServiceIdentityOptionsValidator>(ServiceIdentityOptions.SectionName);
        // The gateway's own hardening headers (Portico:Security:HardeningHeaders) replace the services' ones from
        // ServiceDefaults: they leave answers from the cache and from origins as those were sent.
        services.PostConfigure<HardeningHeadersOptions>(o => o.Enabled = false);
        services.AddHttpClient(ServiceTokenSource.HttpClientName);
        services.TryAddSingleton<ServiceTokenSource>();
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(GatewayAuthorizationPolicies.User, p => p.RequireAuthenticatedUser())
            .AddPolicy(GatewayAuthorizationPolicies.Admin, p => p.RequireAuthenticatedUser().RequireRole(GatewayAuthorizationPolicies.AdminRole));

        services.AddCors();
        services.Replace(ServiceDescriptor.Singleton<ICorsPolicyProvider, GatewayCorsPolicyProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGatewayConfigSection, CorsConfigSection>());
        services.AddSingleton(SettingHome.GatewayFile("Portico:Cors"));

        builder.AddTransforms(static transforms =>
        {
            transforms.AddRequestTransform(IdentityForwarding.ApplyAsync);
            foreach (var hidden in SecurityHeadersMiddleware.HiddenUpstreamHeaders)
            {
                transforms.AddResponseHeaderRemove(hidden, ResponseCondition.Always); // error answers too, not only 2xx
            }
        });
        return builder;
    }
}

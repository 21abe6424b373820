using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Security;

/// <summary>The CORS policies of one version of the gateway file, built once per version.</summary>
internal sealed class CorsSettings(IReadOnlyDictionary<string, CorsPolicy> policies)
{
    public IReadOnlyDictionary<string, CorsPolicy> Policies { get; } = policies;
}

/// <summary>
/// Reads <c>Portico:Cors:Policies</c> from the gateway file: every origin checked (the browser compares them byte for
/// byte), and every route's <c>CorsPolicy</c> checked to name a policy of the file, one registered in code, or YARP's
/// <c>default</c>/<c>disable</c>. A route's policy changes with the file, like its cache and rate-limit policies.
/// </summary>
internal sealed class CorsConfigSection(IConfiguration host, IOptions<CorsOptions> codePolicies) : IGatewayConfigSection
{
    public const string SectionPath = "Portico:Cors:Policies";
    private const string FormerHostSection = "Portico:Security:Cors";

    // Answers a browser script may read besides the safelisted ones.
    private static readonly string[] ExposedHeaders = ["X-Request-Id", "Retry-After", "Portico-Cache", "Portico-Partial"];

    public object Read(GatewayConfigContext context)
    {
        if (host.GetSection(FormerHostSection).Exists())
        {
            context.Errors.Add($"{FormerHostSection} in the host settings is no longer read: CORS policies are in the gateway file under {SectionPath}, where they reload with it.");
        }
        var policies = new Dictionary<string, CorsPolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var section in context.File.GetSection(SectionPath).GetChildren())
        {
            CorsPolicyOptions options;
            try
            {
                options = section.Get<CorsPolicyOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new CorsPolicyOptions();
            }
            catch (InvalidOperationException ex)
            {
                context.Errors.Add($"CORS policy '{section.Key}' cannot be read: {ex.Message}");
                continue;
            }
            var errors = context.Errors.Count;
            Validate($"{SectionPath}:{section.Key}", options, context.Errors);
            if (context.Errors.Count == errors)
            {
                policies[section.Key] = Build(options);
            }
        }
        foreach (var route in context.Routes)
        {
            if (route.CorsPolicy is { } name && !IsYarpBuiltIn(name) && !policies.ContainsKey(name) && codePolicies.Value.GetPolicy(name) is null)
            {
                context.Errors.Add($"Route '{route.RouteId}' names CORS policy '{name}', which {SectionPath} does not define.");
            }
        }
        return new CorsSettings(policies);
    }

    private static bool IsYarpBuiltIn(string name) =>
        name.Equals("default", StringComparison.OrdinalIgnoreCase) || name.Equals("disable", StringComparison.OrdinalIgnoreCase);

    private static CorsPolicy Build(CorsPolicyOptions o)
    {
        var policy = new CorsPolicyBuilder().WithOrigins(o.Origins).WithMethods(o.Methods).WithHeaders(o.Headers)
            .SetPreflightMaxAge(o.MaxAge).WithExposedHeaders(ExposedHeaders);
        return (o.AllowCredentials ? policy.AllowCredentials() : policy).Build();
    }

    private static void Validate(string at, CorsPolicyOptions cors, ICollection<string> errors)
    {
        if (cors.Origins.Length == 0)
        {
            errors.Add($"{at}:Origins must name at least one origin.");
        }
        foreach (var origin in cors.Origins)
        {
            if (origin == "*")
            {
                if (cors.AllowCredentials)
                {
                    errors.Add($"{at}: '*' cannot be combined with AllowCredentials (the Fetch standard refuses it).");
                }
            }
            else if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                || uri.PathAndQuery != "/" || origin.EndsWith('/'))
            {
                errors.Add($"{at}:Origins has '{origin}', which is not an origin (scheme://host[:port], no path).");
            }
        }
        if (cors.MaxAge < TimeSpan.Zero)
        {
            errors.Add($"{at}:MaxAge must not be negative.");
        }
    }
}

/// <summary>
/// Policies of the gateway file version in force first, then those registered in code (<c>AddCors</c>). YARP's route
/// validator asks too, outside any request, while a candidate file is being checked: that file's names are checked by
/// <see cref="CorsConfigSection"/> against the candidate itself, so the validator is told the policy exists.
/// </summary>
internal sealed class GatewayCorsPolicyProvider(IServiceProvider services, IOptions<CorsOptions> codePolicies) : ICorsPolicyProvider
{
    private static readonly Task<CorsPolicy?> CheckedElsewhere = Task.FromResult<CorsPolicy?>(new CorsPolicyBuilder().Build());

    // Resolved on first use: the config provider's own validation (YARP's validators) depends on this provider.
    private GatewayConfigProvider? _config;

    public Task<CorsPolicy?> GetPolicyAsync(HttpContext context, string? policyName)
    {
        // YARP's validator asks with a bare context of its own (no request services), during the file's own load.
        if (context?.RequestServices is null)
        {
            return CheckedElsewhere;
        }
        var config = _config ??= services.GetRequiredService<GatewayConfigProvider>();
        var name = policyName ?? codePolicies.Value.DefaultPolicyName;
        return Task.FromResult(config.GetSection<CorsSettings>().Policies.TryGetValue(name, out var policy) ? policy : codePolicies.Value.GetPolicy(name));
    }
}

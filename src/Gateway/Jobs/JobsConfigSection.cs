using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Portico.Gateway.Configuration;
using Portico.Gateway.Security;

namespace Portico.Gateway.Jobs;

/// <summary>
/// Reads the job routes (<c>Portico:Jobs</c> in the gateway file) and rejects what cannot work: a queue the host does
/// not serve, an anonymous job (it needs an owner), a path or method used twice, parameters that cannot be checked.
/// While jobs are off in the host configuration, any job route is an error rather than silently ignored.
/// </summary>
internal sealed class JobsConfigSection(IOptions<JobsOptions> options) : IGatewayConfigSection
{
    public const string SectionPath = "Portico:Jobs";

    private static readonly HashSet<string> Methods = new(StringComparer.OrdinalIgnoreCase) { "POST", "PUT" };

    public object Read(GatewayConfigContext context)
    {
        var routes = new List<JobRoute>();
        var host = options.Value;
        var served = new HashSet<string>(host.Queues, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var section in context.File.GetSection(SectionPath).GetChildren())
        {
            var where = $"Job '{section.Key}'";
            if (served.Count == 0)
            {
                context.Errors.Add($"{where}: jobs are off in this gateway; list its queue in {JobsOptions.SectionName}:Queues of the host configuration.");
                continue;
            }
            JobRouteConfig config;
            try
            {
                config = section.Get<JobRouteConfig>(o => o.ErrorOnUnknownConfiguration = true) ?? new JobRouteConfig();
            }
            catch (InvalidOperationException ex)
            {
                context.Errors.Add($"{where} cannot be read: {ex.Message}");
                continue;
            }
            if (Read(where, section.Key, config, host, served, context.Errors) is { } route)
            {
                if (!seen.Add(route.Method + " " + route.Path))
                {
                    context.Errors.Add($"{where}: another job already answers {route.Method} {route.Path}.");
                }
                routes.Add(route);
            }
        }
        return new JobsSettings(routes);
    }

    private static JobRoute? Read(string where, string name, JobRouteConfig config, JobsOptions host, HashSet<string> served, ICollection<string> errors)
    {
        var before = errors.Count;
        if (!Methods.Contains(config.Method))
        {
            errors.Add($"{where}: Method must be POST or PUT, not '{config.Method}'.");
        }
        if (config.Path is null || !config.Path.StartsWith('/') || config.Path.Contains('{', StringComparison.Ordinal))
        {
            errors.Add($"{where}: Path must start with '/' and have no parameters.");
        }
        else if (config.Path.StartsWith(host.StatusPath + "/", StringComparison.OrdinalIgnoreCase) || config.Path.Equals(host.StatusPath, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{where}: Path is under {host.StatusPath}, where job status is served.");
        }
        if (config.Queue is null || !served.Contains(config.Queue))
        {
            errors.Add($"{where}: Queue '{config.Queue}' is not one this gateway serves ({JobsOptions.SectionName}:Queues: {string.Join(", ", served.Order(StringComparer.Ordinal))}).");
        }
        if (string.Equals(config.AuthorizationPolicy, GatewayAuthorizationPolicies.Anonymous, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{where}: a job belongs to the user who submits it, so AuthorizationPolicy cannot be 'anonymous'.");
        }
        if (config.MaxAttempts is < 1 or > 100)
        {
            errors.Add($"{where}: MaxAttempts must be from 1 to 100.");
        }
        if (config.Lease is { } lease && (lease < TimeSpan.FromMilliseconds(300) || lease > TimeSpan.FromHours(12)))
        {
            errors.Add($"{where}: Lease must be from 00:00:00.3 to 12:00:00.");
        }
        if (config.MaxRequestBodySize is < 0 or > 16 * 1024 * 1024)
        {
            errors.Add($"{where}: MaxRequestBodySize must be from 0 to 16 MiB.");
        }
        var parameters = new List<JobParameter>();
        foreach (var (parameterName, p) in config.Parameters)
        {
            if (ReadParameter($"{where} parameter '{parameterName}'", parameterName, p, config.Parameters, errors) is { } parameter)
            {
                parameters.Add(parameter);
            }
        }
        if (errors.Count > before)
        {
            return null;
        }
        return new JobRoute(name, config.Method.ToUpperInvariant(), config.Path!, config.AuthorizationPolicy, config.Queue!,
            config.MaxAttempts ?? host.MaxAttempts, config.Lease ?? host.Lease, config.MaxRequestBodySize ?? host.MaxRequestBodySize, parameters);
    }

    private static JobParameter? ReadParameter(string where, string name, JobParameterConfig p, Dictionary<string, JobParameterConfig> all, ICollection<string> errors)
    {
        var before = errors.Count;
        if (name.Length is 0 or > 100)
        {
            errors.Add($"{where}: a name must be 1 to 100 characters.");
        }
        if (p.NotBefore is { } other && (p.Type != JobParameterType.Date || !all.TryGetValue(other, out var start) || start.Type != JobParameterType.Date || other == name))
        {
            errors.Add($"{where}: NotBefore is for a date and must name another date parameter, not '{other}'.");
        }
        if ((p.Min is not null || p.Max is not null) && p.Type != JobParameterType.Integer)
        {
            errors.Add($"{where}: Min and Max are for integers.");
        }
        if (p.Min > p.Max)
        {
            errors.Add($"{where}: Min is above Max.");
        }
        if (p.Values.Length > 0 && p.Type != JobParameterType.String)
        {
            errors.Add($"{where}: Values are for strings.");
        }
        if (p.MaxLength is < 1 or > 10_000)
        {
            errors.Add($"{where}: MaxLength must be from 1 to 10000.");
        }
        if (p.Required && p.Default is not null)
        {
            errors.Add($"{where}: a required parameter has no Default.");
        }
        JsonElement? defaultValue = null;
        var parameter = new JobParameter(name, p.Type, p.Required, p.Values, null, p.NotBefore, p.Min, p.Max, p.MaxLength);
        if (p.Default is { } text)
        {
            // The default is checked as if a client had sent it.
            using var document = JsonDocument.Parse(p.Type switch
            {
                JobParameterType.String or JobParameterType.Date => JsonSerializer.Serialize(text),
                _ => text.ToLowerInvariant() is var t && (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out _) || t is "true" or "false") ? t : JsonSerializer.Serialize(text),
            });
            if (JobRequestReader.Check(parameter, document.RootElement) is { } problem)
            {
                errors.Add($"{where}: Default '{text}': {problem}");
            }
            else
            {
                defaultValue = JobRequestReader.Normalize(parameter, document.RootElement);
            }
        }
        return errors.Count > before ? null : parameter with { Default = defaultValue };
    }
}

using Google.Api;
using Google.Protobuf.Reflection;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Transcoding;

/// <summary>One REST route that a gRPC method's <c>google.api.http</c> rule asks for.</summary>
internal sealed record TranscodedRoute(string HttpMethod, string Path, IReadOnlyList<string> PathFields, string? Body, MethodDescriptor Method,
    string Cluster, string? AuthorizationPolicy);

internal sealed class TranscodingSettings(IReadOnlyList<TranscodedRoute> routes)
{
    public IReadOnlyList<TranscodedRoute> Routes { get; } = routes;
}

/// <summary>
/// Reads <c>Portico:Transcoding:Services</c>: for each gRPC service named there (its contract registered with
/// <c>AddGrpcContracts</c>), the cluster that serves it and the authorization of its REST routes. Every unary
/// method with a <c>google.api.http</c> rule becomes a REST route; unknown services and clusters, and path
/// templates beyond <c>/literal/{field}</c>, fail the file.
/// </summary>
internal sealed class TranscodingConfigSection(GrpcContracts contracts) : IGatewayConfigSection
{
    public const string SectionPath = "Portico:Transcoding:Services";

    public object Read(GatewayConfigContext context)
    {
        var routes = new List<TranscodedRoute>();
        var clusters = new HashSet<string>(context.Clusters.Select(c => c.ClusterId), StringComparer.OrdinalIgnoreCase);
        foreach (var service in context.File.GetSection(SectionPath).GetChildren())
        {
            var where = $"{SectionPath}:{service.Key}";
            var cluster = service["Cluster"];
            if (cluster is null || !clusters.Contains(cluster))
            {
                context.Errors.Add($"{where}: unknown cluster '{cluster}'.");
            }
            if (!contracts.TryGetService(service.Key, out var descriptor))
            {
                context.Errors.Add($"{where}: no gRPC contract for service '{service.Key}' is registered with the gateway.");
                continue;
            }
            foreach (var method in descriptor.Methods)
            {
                if (method.GetOptions()?.GetExtension(AnnotationsExtensions.Http) is not { } rule)
                {
                    continue;
                }
                if (method.IsClientStreaming || method.IsServerStreaming)
                {
                    context.Errors.Add($"{where}: {method.FullName} streams; only unary methods are transcoded.");
                    continue;
                }
                var (verb, path) = rule.PatternCase switch
                {
                    HttpRule.PatternOneofCase.Get => ("GET", rule.Get),
                    HttpRule.PatternOneofCase.Post => ("POST", rule.Post),
                    HttpRule.PatternOneofCase.Put => ("PUT", rule.Put),
                    HttpRule.PatternOneofCase.Delete => ("DELETE", rule.Delete),
                    HttpRule.PatternOneofCase.Patch => ("PATCH", rule.Patch),
                    _ => ("", ""),
                };
                string? error = null;
                if ((verb.Length == 0 ? null : PathFields(path, method.InputType, out error)) is not { } fields)
                {
                    context.Errors.Add($"{where}: {method.FullName} has an HTTP rule Portico cannot serve ({(verb.Length == 0 ? "custom verb" : error)}).");
                    continue;
                }
                var body = rule.Body is { Length: > 0 } b ? b : null;
                if (body is not null && body != "*")
                {
                    context.Errors.Add($"{where}: {method.FullName}: only body \"*\" or none is supported, not \"{body}\".");
                    continue;
                }
                routes.Add(new TranscodedRoute(verb, path, fields, body, method, cluster ?? "", service["AuthorizationPolicy"]));
            }
        }
        return new TranscodingSettings(routes);
    }

    /// <summary>The fields a template's <c>{field}</c> segments set; null with a reason for anything else.</summary>
    private static List<string>? PathFields(string template, MessageDescriptor input, out string? error)
    {
        var fields = new List<string>();
        error = null;
        if (!template.StartsWith('/'))
        {
            error = $"path '{template}' must start with '/'";
            return null;
        }
        foreach (var segment in template.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!segment.StartsWith('{'))
            {
                if (segment.AsSpan().IndexOfAny("{}*=:") >= 0)
                {
                    error = $"segment '{segment}'";
                    return null;
                }
                continue;
            }
            var name = segment.Trim('{', '}');
            if (!segment.EndsWith('}') || input.FindFieldByName(name) is not { IsRepeated: false, FieldType: not (FieldType.Message or FieldType.Bytes) })
            {
                error = $"variable '{segment}' is not a scalar field of {input.FullName}";
                return null;
            }
            fields.Add(name);
        }
        return fields;
    }
}

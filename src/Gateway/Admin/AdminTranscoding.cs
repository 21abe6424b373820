using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.Admin;

/// <summary>
/// A gRPC service the gateway knows: <see cref="Transcoded"/> when the gateway file gives it REST routes (else it is a
/// contract compiled into the host, for composition steps). <see cref="Status"/> is <c>loaded</c> or, while its
/// descriptors have not come (the service down at start, say), <c>pending</c>. <see cref="Source"/> is where the
/// descriptors come from: <c>reflection</c>, <c>descriptor-set</c> (the file in <see cref="SourceFile"/>) or <c>compiled</c>.
/// </summary>
internal sealed record TranscodedServiceView(string Service, bool Transcoded, string? Cluster, string Status, string Source, string? SourceFile,
    DateTimeOffset? LoadedAt, string? Authorization, string? PathPrefix, bool ConventionRoutes, IReadOnlyList<GrpcMethodView> Methods,
    IReadOnlyList<string> Skipped);

/// <summary>One method: its messages, its kind (<c>unary</c>, <c>server-streaming</c> …) and the HTTP routes that reach it.</summary>
internal sealed record GrpcMethodView(string Name, string Input, string Output, string Kind, IReadOnlyList<HttpBindingView> Bindings);

/// <summary>
/// One HTTP route of a method, its path as the rule writes it (<c>/v1/{name=shelves/*}/books</c>). <see cref="Served"/>
/// is false when another service's route took the same method and path first (see <c>skipped</c>).
/// </summary>
internal sealed record HttpBindingView(string Method, string Path, string? Body, string? ResponseBody, bool Served);

/// <summary>The transcoding view of the admin API, from the gateway file in force and the descriptors loaded now.</summary>
internal static partial class AdminTranscoding
{
    public static IReadOnlyList<TranscodedServiceView> Services(TranscodingSettings settings, ImmutableDictionary<string, GrpcService> known)
    {
        var views = new List<TranscodedServiceView>();
        // Routes are claimed in the order the data source builds them, so a clash shows on the same binding it loses.
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in settings.Services)
        {
            var authorization = entry.Options.AuthorizationPolicy is { Length: > 0 } policy ? policy : "signed-in (default)";
            if (!known.TryGetValue(entry.Name, out var service))
            {
                var expected = entry.Options.Reflection ? "reflection" : entry.DescriptorSet is not null ? "descriptor-set" : "compiled";
                views.Add(new TranscodedServiceView(entry.Name, true, entry.Cluster, "pending", expected, FileName(entry.DescriptorSet), null, authorization,
                    entry.Options.PathPrefix, entry.Options.ConventionRoutes, [], []));
                continue;
            }
            var skipped = new List<string>();
            var bindings = new Dictionary<string, List<HttpBindingView>>(StringComparer.Ordinal);
            foreach (var route in TranscodingRoutes.For(entry, service, skipped))
            {
                var served = taken.Add(route.HttpMethod + " " + route.Pattern);
                if (!served)
                {
                    skipped.Add($"{route.Method.FullName}: {route.HttpMethod} {route.Pattern} is already taken");
                }
                if (!bindings.TryGetValue(route.Method.Name, out var list))
                {
                    bindings[route.Method.Name] = list = [];
                }
                list.Add(new HttpBindingView(route.HttpMethod, Template(route), route.Body, route.ResponseBody, served));
            }
            var (source, file) = Source(service.Source);
            views.Add(new TranscodedServiceView(entry.Name, true, entry.Cluster, "loaded", source, file, service.LoadedAt, authorization,
                entry.Options.PathPrefix, entry.Options.ConventionRoutes, Methods(service, bindings), skipped));
        }
        foreach (var service in known.Values.Where(s => !settings.Services.Any(e => e.Name == s.Descriptor.FullName)).OrderBy(s => s.Descriptor.FullName, StringComparer.Ordinal))
        {
            var (source, file) = Source(service.Source);
            views.Add(new TranscodedServiceView(service.Descriptor.FullName, false, null, "loaded", source, file, service.LoadedAt, null, null, false,
                Methods(service, []), []));
        }
        return views;
    }

    private static List<GrpcMethodView> Methods(GrpcService service, Dictionary<string, List<HttpBindingView>> bindings) =>
        [.. service.Descriptor.Methods.Select(m => new GrpcMethodView(m.Name, m.InputType.FullName, m.OutputType.FullName,
            (m.IsClientStreaming, m.IsServerStreaming) switch
            {
                (false, false) => "unary",
                (false, true) => "server-streaming",
                (true, false) => "client-streaming (not callable from REST)",
                _ => "bidirectional-streaming (not callable from REST)",
            },
            bindings.GetValueOrDefault(m.Name) ?? []))];

    /// <summary>The source names <see cref="GrpcService.Source"/> holds: <c>compiled</c>, <c>reflection</c>, <c>file {name}</c>.</summary>
    private static (string Source, string? File) Source(string source) =>
        source.StartsWith("file ", StringComparison.Ordinal) ? ("descriptor-set", source[5..]) : (source, null);

    private static string? FileName(string? path) => path is null ? null : Path.GetFileName(path);

    /// <summary>
    /// The route's path as a rule writes it: the route pattern's parameters (<c>{p0}</c>, <c>{**p1}</c>) named back by the
    /// variables they fill (<c>{id}</c>, <c>{name=shelves/*}</c>); those of bare <c>*</c> and <c>**</c> segments as written.
    /// </summary>
    internal static string Template(TranscodedRoute route)
    {
        var path = route.Pattern;
        foreach (var variable in route.Variables)
        {
            string InPattern(string part) => PathVariable.IsParameter(part) && path.Contains("{**" + part[1..], StringComparison.Ordinal) ? "{**" + part[1..] : part;
            string Shape(string part) => !PathVariable.IsParameter(part) ? part : InPattern(part).StartsWith("{**", StringComparison.Ordinal) ? "**" : "*";
            var written = string.Join('/', variable.Parts.Select(InPattern));
            var shown = variable.Parts is [var only] && Shape(only) == "*"
                ? "{" + variable.Field + "}"
                : "{" + variable.Field + "=" + string.Join('/', variable.Parts.Select(Shape)) + "}";
            path = path.Replace(written, shown, StringComparison.Ordinal);
        }
        return Wildcard().Replace(path, m => m.Value.StartsWith("{**", StringComparison.Ordinal) ? "**" : "*");
    }

    [GeneratedRegex(@"\{(\*\*)?p\d+\}")]
    private static partial Regex Wildcard();
}

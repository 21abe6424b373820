using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Transcoding;

/// <summary>One entry of <c>Portico:Transcoding:Services</c>, as written in the gateway file.</summary>
internal sealed record TranscodedServiceOptions
{
    public string? Cluster { get; init; }

    /// <summary>Load the descriptors by gRPC server reflection from the cluster.</summary>
    public bool Reflection { get; init; }

    /// <summary>Load the descriptors from this descriptor-set file (relative to the gateway file).</summary>
    public string? DescriptorSet { get; init; }

    /// <summary>Who may call the REST routes: none means a signed-in user, <c>anonymous</c> opens them, else a policy.</summary>
    public string? AuthorizationPolicy { get; init; }

    /// <summary>Also answer <c>POST /{package}.{Service}/{Method}</c> with a JSON body, for methods without an HTTP rule too.</summary>
    public bool ConventionRoutes { get; init; }

    /// <summary>Where the service's REST routes live: while its descriptors are missing, anything under it answers 503.</summary>
    public string? PathPrefix { get; init; }

    /// <summary>Write fields holding their default value (0, "", []) in replies, instead of leaving them out.</summary>
    public bool EmitDefaults { get; init; }

    /// <summary>Accept (and drop) JSON fields the request message does not have, instead of answering 400.</summary>
    public bool IgnoreUnknownFields { get; init; }

    /// <summary>The deadline of each call (sent as <c>grpc-timeout</c>); 30 seconds when left out.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>A server-streaming reply as newline-delimited JSON (<c>ndjson</c>, the default) or one JSON array (<c>array</c>).</summary>
    public string? Streaming { get; init; }
}

/// <summary>A transcoded service of the version in force: its name, options and where its descriptors come from (full path).</summary>
internal sealed record TranscodedService(string Name, string Cluster, TranscodedServiceOptions Options, string? DescriptorSet)
{
    /// <summary>Descriptors come at run time (reflection or a file), not from a contract compiled into the host.</summary>
    public bool IsDynamic => Options.Reflection || DescriptorSet is not null;
}

internal sealed class TranscodingSettings(IReadOnlyList<TranscodedService> services, TimeSpan refreshInterval, TimeSpan retryInterval)
{
    public IReadOnlyList<TranscodedService> Services { get; } = services;

    /// <summary>How often loaded descriptors are fetched again (a new method appears without a restart).</summary>
    public TimeSpan RefreshInterval { get; } = refreshInterval;

    /// <summary>How often a service with no descriptors yet (down at start, say) is asked again.</summary>
    public TimeSpan RetryInterval { get; } = retryInterval;
}

/// <summary>
/// Reads <c>Portico:Transcoding</c>: for each gRPC service, the cluster that serves it, where its descriptors come from
/// (server reflection, a descriptor-set file, or a contract the host compiled in) and how its REST routes behave. The
/// routes themselves come from the descriptors (<see cref="TranscodingRoutes"/>), which may arrive later.
/// </summary>
internal sealed class TranscodingConfigSection(GrpcDescriptors descriptors, IOptions<GatewayOptions> options, IHostEnvironment environment) : IGatewayConfigSection
{
    public const string SectionPath = "Portico:Transcoding";
    public const string ServicesPath = SectionPath + ":Services";

    private static readonly TimeSpan DefaultRefresh = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan DefaultRetry = TimeSpan.FromSeconds(5);

    private readonly string _folder = Path.GetDirectoryName(Path.GetFullPath(options.Value.ConfigFile, environment.ContentRootPath))!;

    public object Read(GatewayConfigContext context)
    {
        var services = new List<TranscodedService>();
        var clusters = new HashSet<string>(context.Clusters.Select(c => c.ClusterId), StringComparer.OrdinalIgnoreCase);
        foreach (var section in context.File.GetSection(ServicesPath).GetChildren())
        {
            var where = $"{ServicesPath}:{section.Key}";
            TranscodedServiceOptions entry;
            try
            {
                entry = section.Get<TranscodedServiceOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new();
            }
            catch (InvalidOperationException ex)
            {
                context.Errors.Add($"{where} cannot be read: {ex.Message}");
                continue;
            }
            if (entry.Cluster is null || !clusters.Contains(entry.Cluster))
            {
                context.Errors.Add($"{where}: unknown cluster '{entry.Cluster}'.");
            }
            string? file = null;
            if (entry.Reflection && entry.DescriptorSet is not null)
            {
                context.Errors.Add($"{where}: take the descriptors from Reflection or from a DescriptorSet, not both.");
            }
            else if (entry.DescriptorSet is { } set)
            {
                file = Path.GetFullPath(set, _folder);
                try
                {
                    GrpcDescriptorSources.FromFile(section.Key, file, DateTimeOffset.UnixEpoch);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Google.Protobuf.InvalidProtocolBufferException or InvalidOperationException or ArgumentException)
                {
                    context.Errors.Add($"{where}: DescriptorSet '{set}' cannot be used: {ex.Message}");
                }
            }
            else if (!entry.Reflection && !descriptors.Compiled.Contains(section.Key))
            {
                context.Errors.Add($"{where}: no descriptors for '{section.Key}': set \"Reflection\": true or a \"DescriptorSet\" file, or compile its contract into the host (AddGrpcContracts).");
            }
            if (entry.PathPrefix is { } prefix && (!prefix.StartsWith('/') || prefix.AsSpan().IndexOfAny("{}*?") >= 0))
            {
                context.Errors.Add($"{where}: PathPrefix '{prefix}' must be a literal path starting with '/'.");
            }
            if (entry.Timeout is { } timeout && timeout <= TimeSpan.Zero)
            {
                context.Errors.Add($"{where}: Timeout must be positive.");
            }
            if (entry.Streaming is not (null or "ndjson" or "array"))
            {
                context.Errors.Add($"{where}: Streaming must be \"ndjson\" or \"array\", not '{entry.Streaming}'.");
            }
            services.Add(new TranscodedService(section.Key, entry.Cluster ?? "", entry, file));
        }
        return new TranscodingSettings(services,
            Interval(context, "RefreshInterval", DefaultRefresh), Interval(context, "RetryInterval", DefaultRetry));
    }

    private static TimeSpan Interval(GatewayConfigContext context, string key, TimeSpan fallback)
    {
        if (context.File[$"{SectionPath}:{key}"] is not { } text)
        {
            return fallback;
        }
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value > TimeSpan.Zero)
        {
            return value;
        }
        context.Errors.Add($"{SectionPath}:{key}: '{text}' is not a positive time span (hh:mm:ss).");
        return fallback;
    }

    /// <summary>Whether a composition step may name this service: declared here, or compiled into the host.</summary>
    public static bool IsDeclared(GatewayConfigContext context, GrpcDescriptors descriptors, string service) =>
        descriptors.Compiled.Contains(service) || context.File.GetSection(ServicesPath).GetSection(service).Exists();
}

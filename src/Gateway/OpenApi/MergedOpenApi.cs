using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Portico.Gateway.Caching;
using Portico.Gateway.Composition;
using Portico.Gateway.Configuration;
using Portico.Gateway.Jobs;
using Portico.Gateway.RateLimiting;
using Portico.Gateway.Transcoding;
using Portico.Gateway.Versioning;

namespace Portico.Gateway.OpenApi;

/// <summary>One merged public document, with its entity tag.</summary>
internal sealed record MergedDocument(string Json, string ETag);

/// <summary>
/// The public document of the gateway file in force, the services' last documents and the gRPC descriptors the gateway
/// has, merged again only when one of them changed (a new version of the file is a new configuration object; a changed
/// service document bumps <see cref="ServiceDocuments.Version"/>; loaded or replaced descriptors are a new
/// <see cref="GrpcDescriptors.Services"/>, the same change that rebuilds the transcoded endpoints).
/// </summary>
internal sealed partial class MergedOpenApi(GatewayConfigProvider config, ServiceDocuments documents, GrpcDescriptors descriptors, IOptions<JobsOptions> jobs,
    ILogger<MergedOpenApi> logger)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private (object Config, int Version, object Grpc, MergedDocument Document)? _cached;

    public async Task<MergedDocument> GetAsync(CancellationToken cancellationToken)
    {
        await documents.EnsureFetchedAsync(cancellationToken);
        var snapshot = config.GetConfig();
        var version = documents.Version;
        var grpc = descriptors.Services;
        if (_cached is { } cached && ReferenceEquals(cached.Config, snapshot) && cached.Version == version && ReferenceEquals(cached.Grpc, grpc))
        {
            return cached.Document;
        }

        var merged = OpenApiMerger.Merge(new MergeInput(
            snapshot.Routes, snapshot.Clusters, documents.Current, config.GetSection<OpenApiSettings>(),
            config.GetSection<CachingSettings>(), config.GetSection<RateLimitingSettings>(), config.GetSection<CompositionSettings>(),
            config.GetSection<JobsSettings>(), jobs.Value.StatusPath,
            config.GetSection<TranscodingSettings>(), grpc, config.GetSection<VersioningSettings>()));
        var json = merged.ToJsonString(Indented);
        // Whatever a service or the gateway file says, the result is checked as OpenAPI; a problem is logged, not hidden.
        var read = OpenApiDocument.Parse(json, "json");
        var problems = (read.Diagnostic?.Errors ?? []).Select(e => $"{e.Pointer}: {e.Message}")
            .Concat(read.Document?.Validate(ValidationRuleSet.GetDefaultRuleSet())?.Select(e => $"{e.Pointer}: {e.Message}") ?? [])
            .ToList();
        if (problems.Count > 0)
        {
            Log.MergedInvalid(logger, problems.Count, string.Join(" | ", problems));
        }
        var document = new MergedDocument(json, $"\"{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..32]}\"");
        _cached = (snapshot, version, grpc, document);
        return document;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "The merged OpenAPI document has {Count} problem(s): {Problems}")]
        public static partial void MergedInvalid(ILogger logger, int count, string problems);
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;
using Portico.Gateway.Configuration;
using Portico.Gateway.Resilience;

namespace Portico.Gateway.OpenApi;

/// <summary>
/// The last good OpenAPI document of each cluster whose metadata names one (<c>Portico.OpenApi</c>), fetched through the
/// cluster like any call the gateway makes (<see cref="ClusterClient"/>) at start, every <c>RefreshInterval</c> and when the
/// gateway file changes. A service that is down, or answers something that is not a valid OpenAPI document, keeps the
/// document it had: the public document does not lose a service's operations because of one failed fetch.
/// </summary>
internal sealed partial class ServiceDocuments(
    ClusterClient clusters, GatewayConfigProvider config, IServiceProvider services, TimeProvider time, ILogger<ServiceDocuments> logger) : BackgroundService
{
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, (string Text, JsonObject Document)> _documents = new(StringComparer.OrdinalIgnoreCase);
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private int _version;

    /// <summary>Changes whenever any cluster's document does.</summary>
    public int Version => Volatile.Read(ref _version);

    public IReadOnlyDictionary<string, JsonObject> Current => _documents.ToDictionary(d => d.Key, d => d.Value.Document, StringComparer.OrdinalIgnoreCase);

    /// <summary>Fetches now the documents never fetched yet (the first request after start should not see an empty API).</summary>
    public async Task EnsureFetchedAsync(CancellationToken cancellationToken)
    {
        if (Published().Any(p => !_documents.ContainsKey(p.Cluster)))
        {
            await RefreshAsync(onlyMissing: true, cancellationToken);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(onlyMissing: false, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            // Next round after the interval, or at once when the gateway file changes (a new cluster, a new path).
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            using var onChange = config.GetChangeToken().RegisterChangeCallback(static state => ((CancellationTokenSource)state!).Cancel(), wake);
            try
            {
                await Task.Delay(config.GetSection<OpenApiSettings>().RefreshInterval, time, wake.Token);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The gateway file changed.
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private IEnumerable<(string Cluster, string Path)> Published() =>
        config.GetConfig().Clusters.Select(c => (c.ClusterId, Path: c.Metadata?.GetValueOrDefault(OpenApiConfigSection.DocumentMetadataKey)))
            .Where(c => c.Path is not null).Select(c => (c.ClusterId, c.Path!));

    private async Task RefreshAsync(bool onlyMissing, CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken);
        try
        {
            var targets = Published().Where(p => !onlyMissing || !_documents.ContainsKey(p.Cluster)).ToList();
            await Task.WhenAll(targets.Select(t => FetchAsync(t.Cluster, t.Path, cancellationToken)));
        }
        finally
        {
            _refreshing.Release();
        }
    }

    private async Task FetchAsync(string cluster, string path, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(FetchTimeout);
        var context = new DefaultHttpContext { RequestServices = services, RequestAborted = timeout.Token };
        string text;
        try
        {
            using var answer = await clusters.SendAsync(context, cluster, idempotent: true, (destination, _) =>
            {
                var address = new Uri(destination.Model.Config.Address.TrimEnd('/') + path);
                return ValueTask.FromResult(new HttpRequestMessage(HttpMethod.Get, address)
                {
                    Version = HttpVersion.Version11,
                    VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher,
                });
            }, timeout.Token);
            if (answer.StatusCode != HttpStatusCode.OK)
            {
                Log.FetchFailed(logger, cluster, path, $"status {(int)answer.StatusCode}");
                return;
            }
            text = await answer.Content.ReadAsStringAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is ClusterCallException or HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Log.FetchFailed(logger, cluster, path, ex.Message);
            return;
        }

        if (_documents.TryGetValue(cluster, out var known) && known.Text == text)
        {
            return;
        }
        // Only a document Microsoft.OpenApi reads without errors replaces the last good one.
        var read = OpenApiDocument.Parse(text, "json");
        var errors = read.Diagnostic?.Errors ?? [];
        if (read.Document is null || errors.Count > 0 || JsonNode.Parse(text) is not JsonObject document)
        {
            Log.DocumentRejected(logger, cluster, path, string.Join(" | ", errors.Select(e => $"{e.Pointer}: {e.Message}")));
            return;
        }
        _documents[cluster] = (text, document);
        Interlocked.Increment(ref _version);
        Log.DocumentChanged(logger, cluster, path);
    }

    public override void Dispose()
    {
        _refreshing.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "OpenAPI document of cluster {Cluster} ({Path}) is new or changed; the public document is merged again.")]
        public static partial void DocumentChanged(ILogger logger, string cluster, string path);

        [LoggerMessage(2, LogLevel.Warning, "OpenAPI document of cluster {Cluster} ({Path}) could not be fetched ({Reason}); its last document, if any, stays.")]
        public static partial void FetchFailed(ILogger logger, string cluster, string path, string reason);

        [LoggerMessage(3, LogLevel.Warning, "OpenAPI document of cluster {Cluster} ({Path}) is not a valid OpenAPI document and was not taken: {Errors}")]
        public static partial void DocumentRejected(ILogger logger, string cluster, string path, string errors);
    }
}

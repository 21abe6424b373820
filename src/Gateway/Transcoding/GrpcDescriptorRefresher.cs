using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Configuration;

namespace Portico.Gateway.Transcoding;

/// <summary>
/// Loads the descriptors of every service whose gateway-file entry says where they come from (reflection, a file): once
/// at start (bounded, so a service that is down keeps nobody waiting), then again every <c>RefreshInterval</c>, at once
/// for a service whose entry changed, and every <c>RetryInterval</c> for one that has none yet. A load that fails keeps
/// the last good descriptors and is logged.
/// </summary>
internal sealed partial class GrpcDescriptorRefresher(GatewayConfigProvider config, GrpcDescriptors descriptors, GrpcDescriptorSources sources,
    TimeProvider time, ILogger<GrpcDescriptorRefresher> logger) : BackgroundService
{
    /// <summary>How long start-up waits for the first loads; a service not loaded by then is served (503) until it is.</summary>
    private static readonly TimeSpan StartWait = TimeSpan.FromSeconds(5);

    private readonly Dictionary<string, (TranscodedService Entry, DateTimeOffset Due)> _schedule = new(StringComparer.Ordinal);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(StartWait, time);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        await RefreshDueAsync(bounded.Token); // a load cut short is tried again by the loop below
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (config.GetChangeToken().RegisterChangeCallback(static state => ((TaskCompletionSource)state!).TrySetResult(), changed))
            {
                var wait = NextDue() - time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.WhenAny(Task.Delay(wait, time, stoppingToken), changed.Task);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            await RefreshDueAsync(stoppingToken);
        }
    }

    private DateTimeOffset NextDue()
    {
        lock (_schedule)
        {
            return _schedule.Count == 0 ? time.GetUtcNow() + TimeSpan.FromMinutes(1) : _schedule.Values.Min(s => s.Due);
        }
    }

    /// <summary>Loads every service that is due, new or changed, side by side.</summary>
    internal async Task RefreshDueAsync(CancellationToken cancellationToken)
    {
        var settings = config.GetSection<TranscodingSettings>();
        var now = time.GetUtcNow();
        var due = new List<TranscodedService>();
        lock (_schedule)
        {
            foreach (var gone in _schedule.Keys.Except(settings.Services.Select(s => s.Name)).ToList())
            {
                _schedule.Remove(gone);
            }
            foreach (var service in settings.Services.Where(s => s.IsDynamic))
            {
                if (!_schedule.TryGetValue(service.Name, out var entry) || entry.Entry != service || entry.Due <= now)
                {
                    due.Add(service);
                }
            }
        }
        await Task.WhenAll(due.Select(service => LoadAsync(service, settings, cancellationToken)));
    }

    private async Task LoadAsync(TranscodedService service, TranscodingSettings settings, CancellationToken cancellationToken)
    {
        TimeSpan next;
        try
        {
            var loaded = await sources.LoadAsync(service, cancellationToken);
            descriptors.Set(loaded);
            Log.Loaded(logger, service.Name, loaded.Source, loaded.Descriptor.Methods.Count);
            next = settings.RefreshInterval;
        }
        catch (Exception ex)
        {
            var have = descriptors.TryGetService(service.Name, out _);
            Log.LoadFailed(logger, service.Name, service.Cluster, have ? "the last good descriptors stay in use" : "its routes answer 503 until they load", ex.Message);
            next = have ? settings.RefreshInterval : settings.RetryInterval;
        }
        lock (_schedule)
        {
            _schedule[service.Name] = (service, time.GetUtcNow() + next);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded the gRPC descriptors of {Service} from {Source}: {MethodCount} methods.")]
        public static partial void Loaded(ILogger logger, string service, string source, int methodCount);

        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Could not load the gRPC descriptors of {Service} (cluster {Cluster}); {Consequence}: {Reason}")]
        public static partial void LoadFailed(ILogger logger, string service, string cluster, string consequence, string reason);
    }
}

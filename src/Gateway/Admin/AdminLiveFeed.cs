using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Portico.Gateway.Telemetry;

namespace Portico.Gateway.Admin;

/// <summary>
/// The admin's live stream: once a second, every watcher gets the second's figures per route (requests, server and
/// client errors, p50/p99) and a few sampled requests (<c>figures</c>), and one <c>destination</c> event per destination
/// whose health, breaker or drain changed. One loop serves every watcher, and runs, with request recording on, only
/// while someone watches; a watcher too slow to keep up loses the oldest events rather than holding the others back.
/// </summary>
internal sealed class AdminLiveFeed(LiveRequests live, AdminViews views, TimeProvider time, IHostApplicationLifetime lifetime)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly List<Channel<SseItem<string>>> _watchers = [];
    private CancellationTokenSource? _loop;
    private Dictionary<(string, string), DestinationView> _last = [];

    /// <summary>
    /// The stream for one watcher: a <c>snapshot</c> at once (clusters), then the live events, until it leaves or the
    /// gateway stops (an open stream must not hold a shutdown or a deploy's drain for the host's whole timeout).
    /// </summary>
    public async IAsyncEnumerable<SseItem<string>> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<SseItem<string>>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        // Completing the channel ends the stream cleanly (the response finishes) rather than aborting it.
        using var stopping = lifetime.ApplicationStopping.Register(() => channel.Writer.TryComplete());
        Join(channel);
        try
        {
            yield return Item("snapshot", new { at = time.GetUtcNow(), clusters = views.Clusters() });
            await foreach (var item in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return item;
            }
        }
        finally
        {
            Leave(channel);
        }
    }

    private void Join(Channel<SseItem<string>> channel)
    {
        lock (_lock)
        {
            _watchers.Add(channel);
            if (_loop is null)
            {
                _loop = new CancellationTokenSource();
                _ = RunAsync(_loop.Token);
            }
        }
    }

    private void Leave(Channel<SseItem<string>> channel)
    {
        lock (_lock)
        {
            _watchers.Remove(channel);
            if (_watchers.Count == 0 && _loop is not null)
            {
                _loop.Cancel();
                _loop.Dispose();
                _loop = null;
            }
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var recording = live.Watch();
        using var timer = new PeriodicTimer(Interval, time);
        _last = views.Clusters().SelectMany(c => c.Destinations.Select(d => ((c.ClusterId, d.DestinationId), d))).ToDictionary();
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Tick();
            }
        }
        catch (OperationCanceledException)
        {
            // The last watcher left.
        }
    }

    private void Tick()
    {
        var (routes, samples) = live.Collect();
        var items = new List<SseItem<string>> { Item("figures", new { at = time.GetUtcNow(), routes, samples }) };
        var now = new Dictionary<(string, string), DestinationView>();
        foreach (var cluster in views.Clusters())
        {
            foreach (var destination in cluster.Destinations)
            {
                now[(cluster.ClusterId, destination.DestinationId)] = destination;
                if (!_last.TryGetValue((cluster.ClusterId, destination.DestinationId), out var before) || Changed(before, destination))
                {
                    items.Add(Item("destination", new { clusterId = cluster.ClusterId, destination, was = before?.Status }));
                }
            }
        }
        _last = now;
        Channel<SseItem<string>>[] watchers;
        lock (_lock)
        {
            watchers = [.. _watchers];
        }
        foreach (var watcher in watchers)
        {
            foreach (var item in items)
            {
                watcher.Writer.TryWrite(item);
            }
        }
    }

    private static bool Changed(DestinationView a, DestinationView b) =>
        a.Status != b.Status || a.ActiveHealth != b.ActiveHealth || a.PassiveHealth != b.PassiveHealth || a.Drained != b.Drained
        || !a.Breakers.SequenceEqual(b.Breakers);

    private static SseItem<string> Item<T>(string type, T data) => new(JsonSerializer.Serialize(data, AdminJson.Options), type);
}

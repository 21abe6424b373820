using System.Collections.Concurrent;
using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Portico.SystemTests;

/// <summary>
/// Follows every resource's state and keeps its last log lines, so that a system run that does not come up (or a
/// resource that will not stop) says which process and why, instead of only "timed out".
/// </summary>
internal sealed class ResourceWatch : IAsyncDisposable
{
    private const int LinesKept = 30;
    private readonly ConcurrentDictionary<string, string> _states = new();
    private readonly ConcurrentDictionary<string, Queue<string>> _lines = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _watchers = [];
    private readonly ResourceLoggerService _logs;

    public ResourceWatch(DistributedApplication app)
    {
        _logs = app.Services.GetRequiredService<ResourceLoggerService>();
        _watchers.Add(Task.Run(() => KeepStatesAsync(app.ResourceNotifications)));
    }

    /// <summary>Every resource's state, and the last log lines of those that are not running and healthy.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        foreach (var (name, state) in _states.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            text.Append(name).Append(": ").AppendLine(state);
            if (state.StartsWith("Running, health Healthy", StringComparison.Ordinal) || !_lines.TryGetValue(name, out var lines))
            {
                continue;
            }
            lock (lines)
            {
                foreach (var line in lines)
                {
                    text.Append("    ").AppendLine(line);
                }
            }
        }
        return text.ToString();
    }

    private async Task KeepStatesAsync(ResourceNotificationService notifications)
    {
        try
        {
            await foreach (var update in notifications.WatchAsync(_stop.Token))
            {
                var snapshot = update.Snapshot;
                var exit = snapshot.ExitCode is { } code ? $", exit code {code}" : "";
                _states[update.Resource.Name] = $"{snapshot.State?.Text ?? "unknown"}, health {snapshot.HealthStatus?.ToString() ?? "none"}{exit}";
                // Logs are kept under the name the orchestrator gave the process, known from its first update on.
                var lines = new Queue<string>();
                if (_lines.TryAdd(update.Resource.Name, lines))
                {
                    _watchers.Add(Task.Run(() => KeepLinesAsync(_logs.WatchAsync(update.ResourceId), lines)));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task KeepLinesAsync(IAsyncEnumerable<IReadOnlyList<LogLine>> batches, Queue<string> lines)
    {
        try
        {
            await foreach (var batch in batches.WithCancellation(_stop.Token))
            {
                lock (lines)
                {
                    foreach (var line in batch)
                    {
                        lines.Enqueue(line.Content);
                        if (lines.Count > LinesKept)
                        {
                            lines.Dequeue();
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_watchers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace Portico.Weather.Tests;

/// <summary>
/// Time from a <see cref="FakeTimeProvider"/>, plus a record of every timer the service asks for, so a
/// test knows when the service has started waiting, for how long, and whether it gave up waiting.
/// </summary>
public sealed class RecordingTimeProvider(FakeTimeProvider clock) : TimeProvider
{
    private readonly ConcurrentQueue<RecordedTimer> _timers = new();
    private readonly SemaphoreSlim _timerCreated = new(0);

    public FakeTimeProvider Clock { get; } = clock;

    public override DateTimeOffset GetUtcNow() => Clock.GetUtcNow();

    public override long GetTimestamp() => Clock.GetTimestamp();

    public override long TimestampFrequency => Clock.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Clock.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new RecordedTimer(Clock.CreateTimer(callback, state, dueTime, period), dueTime);
        _timers.Enqueue(timer);
        _timerCreated.Release();
        return timer;
    }

    /// <summary>Waits until a timer first due after <paramref name="dueTime"/> has been created.</summary>
    public async Task<RecordedTimer> WaitForTimerAsync(TimeSpan dueTime, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_timers.FirstOrDefault(t => t.DueTime == dueTime) is { } timer)
            {
                return timer;
            }
            await _timerCreated.WaitAsync(cancellationToken);
        }
    }

    public sealed class RecordedTimer(ITimer inner, TimeSpan dueTime) : ITimer
    {
        private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TimeSpan DueTime { get; } = dueTime;

        /// <summary>Completes when the owner disposes the timer, e.g. because its wait was cancelled.</summary>
        public Task Disposed => _disposed.Task;

        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

        public void Dispose()
        {
            inner.Dispose();
            _disposed.TrySetResult();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

using Microsoft.Extensions.Logging;

namespace Portico.Gateway.Composition;

/// <summary>
/// One run's view of its saga log: what an earlier run recorded (when this one resumes it) and the writes this run
/// makes before it moves on. A write that fails — the store did not take it within the retry budget, or another
/// instance has taken the run over — marks the journal <see cref="Lost"/>: the run starts nothing more and answers
/// "pending", and whoever owns the log settles it. Which of the two it was is logged.
/// </summary>
internal sealed partial class SagaJournal(SagaLog log, string composition, string key, string owner, DurableSettings settings, ILogger logger,
    SagaState? restored = null)
{
    private volatile string? _lostBecause;

    public string Key { get; } = key;

    public DurableSettings Settings { get; } = settings;

    public bool Lost => _lostBecause is not null;

    /// <summary>Why the log could not be written, for the answer: the run was taken over, or the store did not take the write.</summary>
    public string? LostBecause => _lostBecause;

    /// <summary>An earlier run had begun compensating, or recorded a definite failure: this one only compensates.</summary>
    public bool Compensating { get; } = restored is not null
        && (restored.Compensating || restored.Steps.Values.Any(s => s.State is SagaStepState.Failed));

    public SagaStepRecord? Restored(string step) => restored?.Steps.GetValueOrDefault(step);

    public bool AlreadyUndone(string step) => restored?.Undone.Contains(step) == true;

    /// <summary>The compensation's <c>Idempotency-Key</c>: the same in every run of this saga, so the service applies it once.</summary>
    public string CompensationKey(string step) => $"{Key[(Key.LastIndexOf(':') + 1)..]}:{step}:undo";

    public Task<bool> StepAsync(string step, SagaStepRecord record) => WriteAsync($"step {step} {record.State}", () => log.RecordStepAsync(Key, owner, step, record));

    public Task<bool> CompensatingAsync() => WriteAsync("compensating", () => log.RecordCompensatingAsync(Key, owner));

    public Task<bool> UndoneAsync(string step) => WriteAsync($"undone {step}", () => log.RecordUndoneAsync(Key, owner, step));

    public Task<bool> CompleteAsync(CompositionAnswer answer) => WriteAsync("complete", () => log.CompleteAsync(Key, owner, answer, Settings.Retention));

    private async Task<bool> WriteAsync(string what, Func<Task<SagaWrite>> write)
    {
        if (Lost)
        {
            return false;
        }
        var result = await write();
        if (result.Written)
        {
            return true;
        }
        if (result.Outcome == SagaWriteOutcome.Conflict)
        {
            Log.Fenced(logger, composition, Key, what, result.Reason);
            _lostBecause = "another gateway instance has taken the run over";
        }
        else
        {
            Log.StoreFailed(logger, composition, Key, what, result.Attempts, result.Reason);
            _lostBecause = "the store did not take the write in time";
        }
        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(443, LogLevel.Warning, "Composition {Composition}: saga {Saga} write '{Write}' refused by fencing ({Reason}); this run stops, its new owner settles it")]
        public static partial void Fenced(ILogger logger, string composition, string saga, string write, string reason);

        [LoggerMessage(444, LogLevel.Error, "Composition {Composition}: saga {Saga} write '{Write}' not taken by the store after {Attempts} attempt(s) ({Reason}); this run stops and answers pending, recovery settles it")]
        public static partial void StoreFailed(ILogger logger, string composition, string saga, string write, int attempts, string reason);
    }
}

using StackExchange.Redis;

namespace Portico.Gateway.Composition;

/// <summary>
/// One run's view of its saga log: what an earlier run recorded (when this one resumes it) and the writes this run
/// makes before it moves on. A write that fails — the store is down, or another instance has taken the run over —
/// marks the journal <see cref="Lost"/>: the run starts nothing more and answers "pending", and whoever owns the
/// log settles it.
/// </summary>
internal sealed class SagaJournal(SagaLog log, string key, string owner, DurableSettings settings, SagaState? restored = null)
{
    private volatile bool _lost;

    public string Key { get; } = key;

    public DurableSettings Settings { get; } = settings;

    public bool Lost => _lost;

    /// <summary>An earlier run had begun compensating, or recorded a definite failure: this one only compensates.</summary>
    public bool Compensating { get; } = restored is not null
        && (restored.Compensating || restored.Steps.Values.Any(s => s.State is SagaStepState.Failed));

    public SagaStepRecord? Restored(string step) => restored?.Steps.GetValueOrDefault(step);

    public bool AlreadyUndone(string step) => restored?.Undone.Contains(step) == true;

    /// <summary>The compensation's <c>Idempotency-Key</c>: the same in every run of this saga, so the service applies it once.</summary>
    public string CompensationKey(string step) => $"{Key[(Key.LastIndexOf(':') + 1)..]}:{step}:undo";

    public Task<bool> StepAsync(string step, SagaStepRecord record) => WriteAsync(() => log.RecordStepAsync(Key, owner, step, record));

    public Task<bool> CompensatingAsync() => WriteAsync(() => log.RecordCompensatingAsync(Key, owner));

    public Task<bool> UndoneAsync(string step) => WriteAsync(() => log.RecordUndoneAsync(Key, owner, step));

    public Task<bool> CompleteAsync(CompositionAnswer answer) => WriteAsync(() => log.CompleteAsync(Key, owner, answer, Settings.Retention));

    private async Task<bool> WriteAsync(Func<Task<bool>> write)
    {
        if (_lost)
        {
            return false;
        }
        try
        {
            if (await write())
            {
                return true;
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Counted as lost below: without the record the run must not move on.
        }
        _lost = true;
        return false;
    }
}

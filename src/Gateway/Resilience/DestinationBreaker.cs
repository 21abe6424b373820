using Polly;
using Polly.CircuitBreaker;

namespace Portico.Gateway.Resilience;

/// <summary>Whether an attempt counts against its destination's circuit breaker.</summary>
internal enum AttemptResult
{
    Succeeded,
    Failed,
}

/// <summary>
/// One destination's circuit breaker: Polly's circuit-breaker strategy keeps the failure ratio over the sampling
/// window and the state transitions, but it is told each attempt's outcome after the forwarder returned instead
/// of wrapping the call. Wrapping cost two async layers and two locks per proxied request (about 3 % of the
/// proxy's throughput, docs/benchmarks.md); a closed breaker now costs one state read before the attempt and one
/// synchronous pipeline run after it.
/// </summary>
/// <remarks>
/// Polly only moves from open to half-open when it runs an action, so the gate before an attempt is kept here:
/// while open, no attempt passes until the break ends; after that, one attempt at a time passes as the probe,
/// and its reported outcome is the run that half-opens the breaker and then closes or reopens it.
/// </remarks>
internal sealed class DestinationBreaker
{
    private static readonly Func<ResilienceContext, AttemptResult, ValueTask<Outcome<AttemptResult>>> Replay =
        static (_, result) => ValueTask.FromResult(Outcome.FromResult(result));

    private readonly CircuitBreakerStateProvider _state = new();
    private readonly CircuitBreakerManualControl _control = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _breakDuration;
    private readonly Action<CircuitState, TimeSpan> _transitioned;
    private readonly ResiliencePipeline<AttemptResult> _pipeline;
    private long _openUntil; // UTC ticks; 0 while closed
    private int _probing;

    /// <summary>A closed breaker; <paramref name="transitioned"/> is told each new state (with the break duration when opened).</summary>
    public DestinationBreaker(CircuitBreakerPolicy policy, TimeProvider time, Action<CircuitState, TimeSpan> transitioned)
    {
        _time = time;
        _breakDuration = policy.BreakDuration;
        _transitioned = transitioned;
        _pipeline = new ResiliencePipelineBuilder<AttemptResult> { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<AttemptResult>
            {
                FailureRatio = policy.FailureRatio,
                MinimumThroughput = policy.MinimumThroughput,
                SamplingDuration = policy.SamplingDuration,
                BreakDuration = policy.BreakDuration,
                StateProvider = _state,
                ManualControl = _control,
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Result == AttemptResult.Failed),
                // Polly runs these on its own executor after the transition; the gate below does not wait for them.
                // No OnHalfOpened: Polly would hold the probe's outcome back until it ran, so TryEnter tells it.
                OnOpened = args =>
                {
                    transitioned(CircuitState.Open, args.BreakDuration);
                    return default;
                },
                OnClosed = _ =>
                {
                    transitioned(CircuitState.Closed, TimeSpan.Zero);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>The state as the admin API shows it: an open breaker whose break has ended waits for its probe.</summary>
    public CircuitState State =>
        _state.CircuitState == CircuitState.Open && OpenUntil is { } until && _time.GetUtcNow() >= until ? CircuitState.HalfOpen : _state.CircuitState;

    /// <summary>When an open breaker lets its probe through; null when closed.</summary>
    public DateTimeOffset? OpenUntil => Volatile.Read(ref _openUntil) is var ticks and > 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>
    /// Whether an attempt may go to the destination now. <paramref name="probe"/>: this attempt is the one
    /// probe of a breaker whose break has ended; its outcome must be reported (or <see cref="Abandon"/>ed).
    /// </summary>
    public bool TryEnter(out bool probe)
    {
        probe = false;
        if (_state.CircuitState == CircuitState.Closed)
        {
            return true;
        }
        // Zero here: the breaker opened a moment ago and its reporter has not set the break's end yet.
        if (Volatile.Read(ref _openUntil) is var until && (until == 0 || _time.GetUtcNow().UtcTicks < until))
        {
            return false;
        }
        probe = Interlocked.CompareExchange(ref _probing, 1, 0) == 0;
        if (probe)
        {
            _transitioned(CircuitState.HalfOpen, TimeSpan.Zero);
        }
        return probe;
    }

    /// <summary>Tells the breaker how an attempt that <see cref="TryEnter"/> let through ended.</summary>
    public void Report(AttemptResult result, bool probe)
    {
        // An attempt let through while closed that ends after the breaker opened says nothing new.
        if (probe || _state.CircuitState == CircuitState.Closed)
        {
            var context = ResilienceContextPool.Shared.Get();
            try
            {
                // The transition itself happens inside this call; only the state callbacks run later.
                _ = _pipeline.ExecuteOutcomeAsync(Replay, context, result);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
            switch (_state.CircuitState)
            {
                case CircuitState.Closed:
                    Volatile.Write(ref _openUntil, 0);
                    break;
                case CircuitState.Open:
                    // Just opened (or reopened by a failed probe): no attempt passes until the break ends. Polly's own
                    // break started a moment earlier, so by then it will take the probe's outcome.
                    var until = (_time.GetUtcNow() + _breakDuration).UtcTicks;
                    if (probe)
                    {
                        Volatile.Write(ref _openUntil, until);
                    }
                    else
                    {
                        Interlocked.CompareExchange(ref _openUntil, until, 0);
                    }
                    break;
            }
        }
        if (probe)
        {
            Volatile.Write(ref _probing, 0);
        }
    }

    /// <summary>Closes the breaker now (an operator's reset): the next attempt goes through as if nothing had failed.</summary>
    public async Task ResetAsync()
    {
        await _control.CloseAsync();
        Volatile.Write(ref _openUntil, 0);
        Volatile.Write(ref _probing, 0);
    }

    /// <summary>Releases the probe slot of an attempt that ended without an outcome (the client left).</summary>
    public void Abandon(bool probe)
    {
        if (probe)
        {
            Volatile.Write(ref _probing, 0);
        }
    }
}

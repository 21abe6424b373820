using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Resilience;

/// <summary>
/// Per-request resilience state, shared by the retry loop, the breaker step and the response transform
/// (a typed feature: <c>context.Features.Get&lt;ResilienceAttempt&gt;()</c>).
/// </summary>
internal sealed class ResilienceAttempt(ClusterResilience state, CancellationToken clientAborted)
{
    public ClusterResilience State { get; } = state;

    /// <summary>The client's own abort token, as opposed to the attempt's timeout token.</summary>
    public CancellationToken ClientAborted { get; } = clientAborted;

    /// <summary>Set before each attempt: whether a 502/503/504 answer may be held back and retried.</summary>
    public bool MayRetryStatus { get; set; }

    /// <summary>The transform held back a retryable answer and reserved a retry from the budget.</summary>
    public bool RetryReserved { get; set; }

    /// <summary>The destination's breaker was open, so this attempt sent nothing.</summary>
    public bool RejectedByBreaker { get; set; }

    /// <summary>The breaker that let the current attempt through, to be told its outcome; null when none.</summary>
    public DestinationBreaker? Breaker { get; set; }

    /// <summary>The current attempt is its breaker's half-open probe.</summary>
    public bool Probe { get; set; }

    private DestinationState? _first;
    private List<DestinationState>? _more; // only when a request is retried

    /// <summary>Remembers a destination as tried, so a retry goes elsewhere.</summary>
    public void AddTried(DestinationState destination)
    {
        if (_first is null)
        {
            _first = destination;
        }
        else
        {
            (_more ??= new List<DestinationState>(2)).Add(destination);
        }
    }

    public bool WasTried(DestinationState destination) =>
        ReferenceEquals(_first, destination) || (_more is not null && _more.Contains(destination));

    /// <summary>Timers to stop once the response starts: timeouts cover the wait for an answer, not its streaming.</summary>
    public CancellationTokenSource? AttemptTimer { get; set; }

    public CancellationTokenSource? TotalTimer { get; set; }

    /// <summary>Called by the transform when the upstream answered 502, 503 or 504.</summary>
    public bool TryReserveStatusRetry()
    {
        if (!MayRetryStatus)
        {
            return false;
        }
        if (!State.Budget.TryRetry())
        {
            return false;
        }
        RetryReserved = true;
        return true;
    }
}

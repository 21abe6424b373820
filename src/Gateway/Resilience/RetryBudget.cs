namespace Portico.Gateway.Resilience;

/// <summary>
/// Caps retries at a share of recent requests, so that when a whole cluster fails the gateway adds at most
/// that share of load on top of the clients' own, instead of multiplying it by the attempt count.
/// Requests and retries are counted in one-second buckets over the window.
/// </summary>
internal sealed class RetryBudget
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly double _ratio;
    private readonly int _minRetries;
    private readonly long[] _requests;
    private readonly long[] _retries;
    private readonly long[] _second;

    public RetryBudget(RetryPolicy policy, TimeProvider time)
    {
        _time = time;
        _ratio = policy.BudgetRatio;
        _minRetries = policy.BudgetMinRetries;
        var buckets = Math.Max(1, (int)policy.BudgetWindow.TotalSeconds);
        _requests = new long[buckets];
        _retries = new long[buckets];
        _second = new long[buckets];
    }

    public void RecordRequest()
    {
        lock (_lock)
        {
            _requests[Bucket(Now())]++;
        }
    }

    /// <summary>Takes one retry from the budget; false when the budget is spent.</summary>
    public bool TryRetry()
    {
        lock (_lock)
        {
            var now = Now();
            var current = Bucket(now);
            long requests = 0, retries = 0;
            for (var i = 0; i < _second.Length; i++)
            {
                if (now - _second[i] < _second.Length)
                {
                    requests += _requests[i];
                    retries += _retries[i];
                }
            }
            if (retries >= _minRetries + (long)(requests * _ratio))
            {
                return false;
            }
            _retries[current]++;
            return true;
        }
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>The bucket of this second, emptied first if it last counted an older second.</summary>
    private int Bucket(long second)
    {
        var index = (int)(second % _second.Length);
        if (_second[index] != second)
        {
            _second[index] = second;
            _requests[index] = 0;
            _retries[index] = 0;
        }
        return index;
    }
}

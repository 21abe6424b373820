using System.Collections.Concurrent;

namespace Portico.Gateway.Telemetry;

/// <summary>Endpoint metadata: requests to this endpoint (the admin surface itself) stay out of the live figures.</summary>
internal sealed class ExcludeFromLiveRequests
{
    public static readonly ExcludeFromLiveRequests Instance = new();
}

/// <summary>One route's requests over one window: how many, how many failed, and the latency percentiles.</summary>
internal sealed record RouteWindow(string Route, int Requests, int ServerErrors, int ClientErrors, double P50Ms, double P99Ms);

/// <summary>A request kept as a sample: never its headers, body or query string.</summary>
internal sealed record SampledRequest(DateTimeOffset At, string Method, string Path, string? Route, int Status, double DurationMs, string? TraceId);

/// <summary>
/// Per-route request figures for whoever watches them live (the admin's stream). The access-log middleware records into
/// it only while someone watches (<see cref="Watch"/>), so a gateway nobody watches pays one volatile read per request.
/// Each collection closes a window: counts and a latency histogram per route (geometric buckets, 20 % wide, so a
/// percentile is within 20 % of the truth), and a few requests as samples: the first few of the window and its server errors.
/// </summary>
internal sealed class LiveRequests(TimeProvider time)
{
    private const double FirstBucketMs = 0.05;
    private const double BucketGrowth = 1.2;
    private const int BucketCount = 90; // up to about 0.05 ms · 1.2^90 ≈ 660 s
    private const int SamplesPerWindow = 8;
    private const int ErrorSamplesPerWindow = 24;
    private static readonly double LogGrowth = Math.Log(BucketGrowth);

    private Window _window = new();
    private int _watchers;

    public bool Enabled => Volatile.Read(ref _watchers) > 0;

    /// <summary>Turns recording on until the returned handle is disposed (several watchers may overlap).</summary>
    public IDisposable Watch()
    {
        if (Interlocked.Increment(ref _watchers) == 1)
        {
            Interlocked.Exchange(ref _window, new Window()); // a window left over from an earlier watch is stale
        }
        return new Watcher(this);
    }

    public void Record(string method, string? path, string? route, int status, double elapsedMs, string? traceId)
    {
        var window = Volatile.Read(ref _window);
        var counts = window.Routes.GetOrAdd(route ?? "(none)", static _ => new RouteCounts());
        Interlocked.Increment(ref counts.Requests);
        if (status >= 500)
        {
            Interlocked.Increment(ref counts.ServerErrors);
        }
        else if (status >= 400)
        {
            Interlocked.Increment(ref counts.ClientErrors);
        }
        Interlocked.Increment(ref counts.Buckets[BucketOf(elapsedMs)]);

        var sampled = Interlocked.Increment(ref window.Sampled) <= SamplesPerWindow
            || (status >= 500 && Interlocked.Increment(ref window.ErrorsSampled) <= ErrorSamplesPerWindow);
        if (sampled)
        {
            window.Samples.Enqueue(new SampledRequest(time.GetUtcNow(), method, path ?? "/", route, status, Math.Round(elapsedMs, 3), traceId));
        }
    }

    /// <summary>Closes the current window and returns its figures, busiest route first, and its samples.</summary>
    public (IReadOnlyList<RouteWindow> Routes, IReadOnlyList<SampledRequest> Samples) Collect()
    {
        var window = Interlocked.Exchange(ref _window, new Window());
        var routes = window.Routes
            .Select(r => new RouteWindow(r.Key, r.Value.Requests, r.Value.ServerErrors, r.Value.ClientErrors,
                Percentile(r.Value.Buckets, r.Value.Requests, 0.50), Percentile(r.Value.Buckets, r.Value.Requests, 0.99)))
            .OrderByDescending(r => r.Requests).ThenBy(r => r.Route, StringComparer.Ordinal)
            .ToList();
        return (routes, [.. window.Samples]);
    }

    private static int BucketOf(double ms) =>
        ms <= FirstBucketMs ? 0 : Math.Min(BucketCount - 1, (int)Math.Ceiling(Math.Log(ms / FirstBucketMs) / LogGrowth));

    /// <summary>The upper bound of the bucket that holds the <paramref name="quantile"/>'s request.</summary>
    private static double Percentile(long[] buckets, int count, double quantile)
    {
        if (count == 0)
        {
            return 0;
        }
        var rank = (long)Math.Ceiling(quantile * count);
        long seen = 0;
        for (var i = 0; i < buckets.Length; i++)
        {
            seen += buckets[i];
            if (seen >= rank)
            {
                return Math.Round(FirstBucketMs * Math.Pow(BucketGrowth, i), 3);
            }
        }
        return Math.Round(FirstBucketMs * Math.Pow(BucketGrowth, BucketCount - 1), 3);
    }

    private sealed class Window
    {
        public readonly ConcurrentDictionary<string, RouteCounts> Routes = new(StringComparer.Ordinal);
        public readonly ConcurrentQueue<SampledRequest> Samples = new();
        public int Sampled;
        public int ErrorsSampled;
    }

    private sealed class RouteCounts
    {
        public readonly long[] Buckets = new long[BucketCount];
        public int Requests;
        public int ServerErrors;
        public int ClientErrors;
    }

    private sealed class Watcher(LiveRequests owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._watchers);
            }
        }
    }
}

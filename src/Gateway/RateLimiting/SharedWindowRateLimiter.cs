using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Store;
using StackExchange.Redis;

namespace Portico.Gateway.RateLimiting;

/// <summary>
/// A fixed or sliding window counted in the shared store, so every gateway instance draws from one limit.
/// One round trip per request: INCR of this window's counter (and, for a sliding window, a read of the
/// previous one, weighted by how much of it still overlaps). Uses only commands Garnet and Redis share.
/// </summary>
internal sealed partial class SharedWindowRateLimiter(
    string policyName, string partitionKey, RateLimitPolicyOptions options, GatewayStore store, TimeProvider time, ILogger logger) : RateLimiter
{
    /// <summary>Lease metadata set when the store could not be asked and the policy fails closed.</summary>
    public const string StoreUnavailable = "portico.store-unavailable";

    private long _lastUsedTicks = time.GetTimestamp();

    public override TimeSpan? IdleDuration => time.GetElapsedTime(Volatile.Read(ref _lastUsedTicks));

    public override RateLimiterStatistics? GetStatistics() => null;

    // Deciding needs the store; the middleware then calls AcquireAsync.
    protected override RateLimitLease AttemptAcquireCore(int permitCount) => Lease.NotYet;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _lastUsedTicks, time.GetTimestamp());
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var windowMs = (long)options.Window.TotalMilliseconds;
        var index = now / windowMs;
        var key = $"portico:rl:{policyName}:{partitionKey}:{index.ToString(CultureInfo.InvariantCulture)}";
        try
        {
            var db = store.Database;
            var batch = db.CreateBatch();
            var current = batch.StringIncrementAsync(key, permitCount);
            var expire = batch.KeyExpireAsync(key, TimeSpan.FromMilliseconds(windowMs * 2));
            Task<RedisValue>? previous = options.Kind == RateLimitKind.SlidingWindow
                ? batch.StringGetAsync($"portico:rl:{policyName}:{partitionKey}:{(index - 1).ToString(CultureInfo.InvariantCulture)}")
                : null;
            batch.Execute();
            await Task.WhenAll(current, expire, previous ?? Task.CompletedTask).WaitAsync(cancellationToken);

            double count = current.Result;
            if (previous is not null && previous.Result.TryParse(out long previousCount))
            {
                var overlap = 1 - (double)(now - index * windowMs) / windowMs;
                count += previousCount * overlap;
            }
            return count <= options.PermitLimit ? Lease.Acquired : Lease.Rejected(TimeSpan.FromMilliseconds((index + 1) * windowMs - now));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.StoreUnavailable(logger, policyName, options.FailMode, ex.Message);
            return options.FailMode == RateLimitFailMode.Open ? Lease.Acquired : Lease.StoreDown;
        }
    }

    private sealed class Lease(bool acquired, TimeSpan? retryAfter, bool storeDown) : RateLimitLease
    {
        public static readonly Lease Acquired = new(true, null, false);
        public static readonly Lease NotYet = new(false, null, false);
        public static readonly Lease StoreDown = new(false, TimeSpan.FromSeconds(1), true);

        public static Lease Rejected(TimeSpan retryAfter) => new(false, retryAfter, false);

        public override bool IsAcquired => acquired;

        public override IEnumerable<string> MetadataNames =>
            storeDown ? [MetadataName.RetryAfter.Name, StoreUnavailable] : retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (metadataName == MetadataName.RetryAfter.Name && retryAfter is { } value)
            {
                metadata = value;
                return true;
            }
            if (metadataName == StoreUnavailable && storeDown)
            {
                metadata = true;
                return true;
            }
            metadata = null;
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(200, LogLevel.Warning, "Rate limit policy {Policy}: the shared store is unavailable, failing {FailMode}: {Reason}")]
        public static partial void StoreUnavailable(ILogger logger, string policy, RateLimitFailMode failMode, string reason);
    }
}

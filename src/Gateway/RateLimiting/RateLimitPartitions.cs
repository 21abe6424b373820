using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Store;

namespace Portico.Gateway.RateLimiting;

/// <summary>The limiter of one policy: one partition per caller (token subject or address), of the policy's kind.</summary>
internal static class RateLimitPartitions
{
    public static PartitionedRateLimiter<HttpContext> Create(string name, RateLimitPolicyOptions o, GatewayStore store, TimeProvider time, ILogger logger) =>
        PartitionedRateLimiter.Create(Partitioner(name, o, store, time, logger));

    private static Func<HttpContext, RateLimitPartition<string>> Partitioner(string name, RateLimitPolicyOptions o, GatewayStore store, TimeProvider time, ILogger logger)
    {
        if (o.Shared)
        {
            return context => RateLimitPartition.Get(PartitionKey(context, o.PartitionBy), key => new SharedWindowRateLimiter(name, key, o, store, time, logger));
        }
        return o.Kind switch
        {
            RateLimitKind.FixedWindow => context => RateLimitPartition.GetFixedWindowLimiter(PartitionKey(context, o.PartitionBy), _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = o.PermitLimit, Window = o.Window, QueueLimit = o.QueueLimit,
            }),
            RateLimitKind.SlidingWindow => context => RateLimitPartition.GetSlidingWindowLimiter(PartitionKey(context, o.PartitionBy), _ => new SlidingWindowRateLimiterOptions
            {
                PermitLimit = o.PermitLimit, Window = o.Window, SegmentsPerWindow = o.SegmentsPerWindow, QueueLimit = o.QueueLimit,
            }),
            RateLimitKind.TokenBucket => context => RateLimitPartition.GetTokenBucketLimiter(PartitionKey(context, o.PartitionBy), _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = o.PermitLimit, TokensPerPeriod = o.TokensPerPeriod, ReplenishmentPeriod = o.ReplenishmentPeriod, QueueLimit = o.QueueLimit,
            }),
            _ => context => RateLimitPartition.GetConcurrencyLimiter(PartitionKey(context, o.PartitionBy), _ => new ConcurrencyLimiterOptions
            {
                PermitLimit = o.PermitLimit, QueueLimit = o.QueueLimit,
            }),
        };
    }

    /// <summary>
    /// The token's subject, else the client's address (an IPv6 address by its /64, see <see cref="ClientAddressPartition"/>).
    /// Forwarded-for headers are not trusted at the edge.
    /// </summary>
    private static string PartitionKey(HttpContext context, RateLimitPartitionBy by) =>
        by == RateLimitPartitionBy.User && context.User.FindFirst("sub")?.Value is { Length: > 0 } subject
            ? "u:" + subject
            : "ip:" + ClientAddressPartition.Of(context.Connection.RemoteIpAddress);
}

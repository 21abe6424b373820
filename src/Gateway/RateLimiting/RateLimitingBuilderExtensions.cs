using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Gateway.Store;
using Portico.Gateway.RateLimiting;
using Portico.Gateway.Routing;
using Microsoft.AspNetCore.Builder;

namespace Microsoft.Extensions.DependencyInjection;

internal static class RateLimitingBuilderExtensions
{
    /// <summary>
    /// Registers the named policies of <c>Portico:RateLimiting</c> with ASP.NET Core's rate limiter, so routes
    /// pick one with YARP's <c>RateLimiterPolicy</c>. Rejections are 429 problem+json with <c>Retry-After</c>.
    /// </summary>
    public static IReverseProxyBuilder AddPorticoRateLimiting(this IReverseProxyBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<RateLimitingOptions>().BindConfiguration(RateLimitingOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RateLimitingOptions>, RateLimitingOptionsValidator>());
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitingOptions>, IServiceProvider>((limiter, portico, sp) =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = OnRejectedAsync;
            foreach (var (name, policy) in portico.Value.Policies)
            {
                limiter.AddPolicy(name, CreatePartitioner(name, policy, sp));
            }
        });
        return builder;
    }

    private static Func<HttpContext, RateLimitPartition<string>> CreatePartitioner(string name, RateLimitPolicyOptions o, IServiceProvider sp)
    {
        if (o.Shared)
        {
            var store = sp.GetRequiredService<GatewayStore>();
            var time = sp.GetRequiredService<TimeProvider>();
            var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Portico.Gateway.RateLimiting");
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

    private static async ValueTask OnRejectedAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
        {
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        if (context.Lease.TryGetMetadata(SharedWindowRateLimiter.StoreUnavailable, out _))
        {
            await GatewayProblems.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "Rate limit unavailable",
                "The rate limit cannot be checked right now and this route fails closed; try again shortly.");
            return;
        }
        await GatewayProblems.WriteAsync(http, StatusCodes.Status429TooManyRequests, "Too many requests",
            "The rate limit of this route was reached; try again after the time in Retry-After.");
    }
}

using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Portico.Gateway.Store;

namespace Portico.Gateway.Jobs;

/// <summary>
/// Host settings of async jobs, bound from <c>Portico:Jobs</c> in the host configuration. The job routes themselves
/// live in the gateway file (<c>Portico:Jobs</c> there); this section says which job queues the gateway serves and how
/// status drives retry. Jobs are off, and nothing of them is loaded, while <see cref="Queues"/> is empty.
/// </summary>
public sealed record JobsOptions
{
    public const string SectionName = "Portico:Jobs";

    /// <summary>
    /// Registering a <see cref="TimeProvider"/> under this key gives the jobs feature its own clock (leases, backoff,
    /// sweeps) apart from the host's; otherwise it uses the host's.
    /// </summary>
    public const string ClockKey = "Portico.Jobs";

    /// <summary>
    /// The job queues this gateway serves, e.g. <c>jobs.sales-report</c>: requests go to <c>{queue}.in</c>, and the
    /// gateway consumes <c>{queue}.out</c>. A job route in the gateway file may name only these.
    /// </summary>
    public string[] Queues { get; init; } = [];

    /// <summary>Where a job's status is read and a queued job cancelled: <c>GET|DELETE {StatusPath}/{id}</c>.</summary>
    public string StatusPath { get; init; } = "/api/jobs";

    /// <summary>Prefix of every job key in the store.</summary>
    public string KeyPrefix { get; init; } = "portico:jobs";

    /// <summary>Attempts of a job before it is failed and dead-lettered; a job route may lower or raise it.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>How long a running job may go without a heartbeat before its worker counts as gone; a route may override it.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a sent request may wait in its queue, not started by any worker, before it is sent again.</summary>
    public TimeSpan QueueTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Delay before the second attempt; each further one doubles it up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryInitialDelay { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the sweeper looks for jobs whose lease, queue time or retry delay is up.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one gateway instance holds the sweeper's lease in the store; it renews it on every sweep.</summary>
    public TimeSpan SweepLease { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a finished job (and an idempotency key) is kept in the store.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(1);

    /// <summary>The <c>Retry-After</c> sent with 202 and with the status of an unfinished job.</summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The most a job request's body may hold; a route may override it.</summary>
    public long MaxRequestBodySize { get; init; } = 16 * 1024;

    /// <summary>Dead-lettered jobs kept in the store's list (<c>{KeyPrefix}:dead</c>), newest first.</summary>
    public int DeadLetterLimit { get; init; } = 10_000;

    /// <summary>The in-queue of a job queue.</summary>
    public static string InQueue(string queue) => queue + ".in";

    /// <summary>The out-queue of a job queue.</summary>
    public static string OutQueue(string queue) => queue + ".out";

    /// <summary>The delay before attempt <paramref name="failedAttempt"/> + 1.</summary>
    public TimeSpan RetryDelay(int failedAttempt)
    {
        var factor = Math.Pow(2, Math.Clamp(failedAttempt - 1, 0, 30));
        return TimeSpan.FromTicks((long)Math.Min(RetryInitialDelay.Ticks * factor, RetryMaxDelay.Ticks));
    }

    /// <summary>Whether the host configuration turns jobs on (at least one queue).</summary>
    public static bool IsEnabled(IConfiguration configuration) =>
        configuration.GetSection(SectionName + ":" + nameof(Queues)).GetChildren().Any(q => !string.IsNullOrWhiteSpace(q.Value));
}

/// <summary>Checks <see cref="JobsOptions"/> at start and lists every problem at once.</summary>
internal sealed class JobsOptionsValidator(IConfiguration configuration) : IValidateOptions<JobsOptions>
{
    public ValidateOptionsResult Validate(string? name, JobsOptions options)
    {
        var errors = new List<string>();
        var at = JobsOptions.SectionName;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var queue in options.Queues)
        {
            if (!JobQueueNames.IsValid(queue))
            {
                errors.Add($"{at}:Queues: '{queue}' must be 1 to 190 letters, digits, '.', '-' or '_'.");
            }
            else if (!seen.Add(queue))
            {
                errors.Add($"{at}:Queues: '{queue}' is listed twice.");
            }
        }
        if (options.Queues.Length > 0 && string.IsNullOrWhiteSpace(configuration.GetConnectionString(GatewayStore.ConnectionName)))
        {
            errors.Add($"{at} keeps job status in the store: set ConnectionStrings:{GatewayStore.ConnectionName}.");
        }
        if (!options.StatusPath.StartsWith('/') || options.StatusPath.EndsWith('/') || options.StatusPath.Contains('{', StringComparison.Ordinal))
        {
            errors.Add($"{at}:StatusPath must be a path such as '/api/jobs' (one leading '/', none trailing, no parameters), not '{options.StatusPath}'.");
        }
        if (string.IsNullOrWhiteSpace(options.KeyPrefix))
        {
            errors.Add($"{at}:KeyPrefix must not be empty.");
        }
        if (options.MaxAttempts is < 1 or > 100)
        {
            errors.Add($"{at}:MaxAttempts must be from 1 to 100, not {options.MaxAttempts}.");
        }
        Positive(nameof(options.Lease), options.Lease, TimeSpan.FromMilliseconds(300), TimeSpan.FromHours(12));
        Positive(nameof(options.QueueTimeout), options.QueueTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        Positive(nameof(options.RetryInitialDelay), options.RetryInitialDelay, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1));
        if (options.RetryMaxDelay < options.RetryInitialDelay || options.RetryMaxDelay > TimeSpan.FromDays(1))
        {
            errors.Add($"{at}:RetryMaxDelay must be from RetryInitialDelay to 1.00:00:00, not {options.RetryMaxDelay}.");
        }
        Positive(nameof(options.SweepInterval), options.SweepInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        Positive(nameof(options.SweepLease), options.SweepLease, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        Positive(nameof(options.Retention), options.Retention, TimeSpan.FromMinutes(1), TimeSpan.FromDays(365));
        Positive(nameof(options.RetryAfter), options.RetryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        if (options.MaxRequestBodySize is < 0 or > 16 * 1024 * 1024)
        {
            errors.Add($"{at}:MaxRequestBodySize must be from 0 to 16 MiB, not {options.MaxRequestBodySize}.");
        }
        if (options.DeadLetterLimit is < 1 or > 1_000_000)
        {
            errors.Add($"{at}:DeadLetterLimit must be from 1 to 1000000, not {options.DeadLetterLimit}.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);

        void Positive(string key, TimeSpan value, TimeSpan min, TimeSpan max)
        {
            if (value < min || value > max)
            {
                errors.Add($"{at}:{key} must be from {min} to {max}, not {value}.");
            }
        }
    }
}

internal static class JobQueueNames
{
    /// <summary>A queue name the messaging layer accepts once <c>.in</c>/<c>.out</c> is added.</summary>
    public static bool IsValid(string? name) =>
        name is { Length: > 0 and <= 190 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');
}

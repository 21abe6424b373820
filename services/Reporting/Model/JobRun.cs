namespace Portico.Reporting.Model;

/// <summary>
/// The result of a job Reporting computed, keyed by the job: a job sent again (a retry, a redelivery) gets this result
/// back instead of being computed a second time.
/// </summary>
public sealed class JobRun
{
    public Guid JobId { get; set; }

    public required string Queue { get; set; }

    public int Attempt { get; set; }

    public required string Worker { get; set; }

    /// <summary>The report, JSON.</summary>
    public required string Result { get; set; }

    public DateTimeOffset ComputedAt { get; set; }
}

/// <summary>
/// Which worker is computing a job, until when. Two deliveries of one job (the broker's redelivery and the gateway's
/// retry can meet) cannot both compute it: the second finds the claim held and leaves the job to its holder. A worker
/// that dies lets its claim lapse with its heartbeat, and the gateway's next attempt takes it over.
/// </summary>
public sealed class JobClaim
{
    public Guid JobId { get; set; }

    public required string Worker { get; set; }

    public DateTimeOffset Until { get; set; }
}

using System.Globalization;
using StackExchange.Redis;

namespace Portico.Gateway.Jobs;

/// <summary>The statuses a job goes through. <c>queued</c> and <c>running</c> are live; the other three are final.</summary>
public static class JobStatuses
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string status) => status is Succeeded or Failed or Cancelled;
}

/// <summary>
/// A job as the store keeps it (one hash per job). Everything needed to send it again is here, so retry works from
/// the stored status alone, whatever the gateway file says by then. <see cref="Version"/> grows with every change;
/// a change is written only if the version is still the one it was computed from.
/// </summary>
internal sealed record JobState
{
    public required Guid Id { get; init; }
    public required string Job { get; init; }
    public required string Owner { get; init; }
    public required IReadOnlyList<string> Roles { get; init; }

    /// <summary>The validated request, a JSON object.</summary>
    public required string Parameters { get; init; }
    public required string RequestHash { get; init; }
    public required string InQueue { get; init; }
    public required string OutQueue { get; init; }
    public required TimeSpan Lease { get; init; }
    public required int MaxAttempts { get; init; }

    public required string Status { get; init; }

    /// <summary>The attempt in progress (or the last one), from 1.</summary>
    public required int Attempt { get; init; }

    /// <summary>Whether the current attempt's request has been handed to the broker.</summary>
    public required bool Sent { get; init; }

    /// <summary>When the sweeper must look at this live job next: end of its lease, of its queue time, or of its retry delay.</summary>
    public required DateTimeOffset Due { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? HeartbeatAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public string? Worker { get; init; }

    /// <summary>The worker's result, raw JSON.</summary>
    public string? Result { get; init; }

    /// <summary>Why the job failed, or why the last attempt did.</summary>
    public string? Error { get; init; }

    public long Version { get; init; }

    public bool IsFinal => JobStatuses.IsFinal(Status);

    /// <summary>A queued job waiting for its retry delay (its request not sent yet).</summary>
    public DateTimeOffset? NextAttemptAt => Status == JobStatuses.Queued && !Sent ? Due : null;

    public HashEntry[] ToHash() =>
    [
        new("id", Id.ToString("D")),
        new("job", Job),
        new("owner", Owner),
        new("roles", string.Join('\n', Roles)),
        new("parameters", Parameters),
        new("requestHash", RequestHash),
        new("in", InQueue),
        new("out", OutQueue),
        new("lease", Lease.Ticks),
        new("maxAttempts", MaxAttempts),
        new("status", Status),
        new("attempt", Attempt),
        new("sent", Sent ? 1 : 0),
        new("due", Due.ToUnixTimeMilliseconds()),
        new("created", CreatedAt.ToUnixTimeMilliseconds()),
        new("updated", UpdatedAt.ToUnixTimeMilliseconds()),
        new("started", Time(StartedAt)),
        new("heartbeat", Time(HeartbeatAt)),
        new("finished", Time(FinishedAt)),
        new("worker", Worker ?? ""),
        new("result", Result ?? ""),
        new("error", Error ?? ""),
        new("version", Version),
    ];

    public static JobState? FromHash(HashEntry[] entries)
    {
        if (entries.Length == 0)
        {
            return null;
        }
        var h = entries.ToDictionary(e => e.Name.ToString(), e => e.Value.ToString(), StringComparer.Ordinal);
        return new JobState
        {
            Id = Guid.Parse(h["id"]),
            Job = h["job"],
            Owner = h["owner"],
            Roles = h["roles"].Length == 0 ? [] : h["roles"].Split('\n'),
            Parameters = h["parameters"],
            RequestHash = h["requestHash"],
            InQueue = h["in"],
            OutQueue = h["out"],
            Lease = TimeSpan.FromTicks(Long(h["lease"])),
            MaxAttempts = (int)Long(h["maxAttempts"]),
            Status = h["status"],
            Attempt = (int)Long(h["attempt"]),
            Sent = h["sent"] == "1",
            Due = DateTimeOffset.FromUnixTimeMilliseconds(Long(h["due"])),
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(Long(h["created"])),
            UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(Long(h["updated"])),
            StartedAt = Time(h["started"]),
            HeartbeatAt = Time(h["heartbeat"]),
            FinishedAt = Time(h["finished"]),
            Worker = Text(h["worker"]),
            Result = Text(h["result"]),
            Error = Text(h["error"]),
            Version = Long(h["version"]),
        };
    }

    private static string Time(DateTimeOffset? value) => value?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? "";

    private static DateTimeOffset? Time(string value) => value.Length == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(Long(value));

    private static string? Text(string value) => value.Length == 0 ? null : value;

    private static long Long(string value) => long.Parse(value, NumberStyles.Integer, CultureInfo.InvariantCulture);
}

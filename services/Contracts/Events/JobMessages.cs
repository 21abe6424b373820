using System.Text.Json;
using Portico.Messaging;

namespace Portico.Contracts.Events;

// The protocol between the gateway's async jobs (src/Gateway/Jobs) and the workers behind it. A job type has two
// queues: the gateway sends JobRequested to "{queue}.in"; the worker answers on the queue named in ReplyTo
// ("{queue}.out") with JobHeartbeat while it works and one JobCompleted at the end. The gateway keeps the job's status
// and decides every retry; a worker never retries a job by itself.

/// <summary>
/// Asks a worker to run one attempt of a job for the caller who submitted it. Attempt counts from 1; a job sent
/// again after a failure or a lost worker has a higher attempt and a new message id but the same <see cref="JobId"/>,
/// which is what a worker deduplicates by.
/// </summary>
/// <param name="JobId">The job, the same on every attempt.</param>
/// <param name="Job">The job's name in the gateway file (<c>sales-report</c>).</param>
/// <param name="Attempt">This attempt, from 1.</param>
/// <param name="UserId">The submitting user (the token's <c>sub</c>): the job's owner.</param>
/// <param name="Roles">The submitting user's roles, for the worker's own authorization.</param>
/// <param name="Parameters">The validated request body (a JSON object), with defaults filled in.</param>
/// <param name="ReplyTo">The out-queue for <see cref="JobHeartbeat"/> and <see cref="JobCompleted"/>.</param>
/// <param name="HeartbeatInterval">How often the worker must send a heartbeat while it works; the gateway's lease is three of these.</param>
/// <param name="RequestedAt">When the gateway sent this attempt.</param>
public sealed record JobRequested(
    Guid JobId, string Job, int Attempt, string UserId, IReadOnlyList<string> Roles, JsonElement Parameters,
    string ReplyTo, TimeSpan HeartbeatInterval, DateTimeOffset RequestedAt) : IIntegrationMessage
{
    public static string MessageType => "JobRequested.v1";
}

/// <summary>A worker has the job and is working on it: the first one marks the job <c>running</c>, each renews its lease.</summary>
public sealed record JobHeartbeat(Guid JobId, int Attempt, string Worker, DateTimeOffset At) : IIntegrationMessage
{
    public static string MessageType => "JobHeartbeat.v1";
}

/// <summary>
/// The end of an attempt: the result (any JSON), or the reason it failed. <see cref="Retryable"/> false says that
/// trying again cannot help (the request itself is wrong), so the gateway fails the job at once.
/// </summary>
public sealed record JobCompleted(
    Guid JobId, int Attempt, string Worker, bool Succeeded, JsonElement? Result, string? Error, bool Retryable, DateTimeOffset At) : IIntegrationMessage
{
    public static string MessageType => "JobCompleted.v1";
}

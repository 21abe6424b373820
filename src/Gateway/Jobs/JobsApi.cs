using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Gateway.Routing;
using Portico.ServiceDefaults.Http;
using StackExchange.Redis;

namespace Portico.Gateway.Jobs;

/// <summary>
/// The HTTP side of jobs: submit (202 with the status URL), read a job's status (its owner only) and cancel a queued
/// one. A request is checked completely before anything is stored, so a bad one leaves no job behind.
/// </summary>
internal sealed partial class JobsApi(JobStore store, JobSender sender, JobsClock clock, IOptions<JobsOptions> options, JobMetrics metrics, ILogger<JobsApi> logger)
{
    public const string IdempotencyHeader = IdempotencyKeys.HeaderName;
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>Runs <paramref name="handler"/>; the store being unreachable is a 503 with <c>Retry-After</c>, not a 500.</summary>
    public async Task GuardAsync(HttpContext context, Func<HttpContext, Task> handler)
    {
        try
        {
            await handler(context);
        }
        catch (Exception e) when (e is RedisException or TimeoutException && !context.Response.HasStarted)
        {
            Log.StoreUnavailable(logger, e, context.Request.Path);
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.Value.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            await GatewayProblems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "Jobs unavailable",
                "The job store cannot be reached; nothing was stored. Try again shortly.");
        }
    }

    /// <summary><c>POST</c> on a job route: check, store <c>queued</c>, send to the in-queue, answer 202.</summary>
    public async Task SubmitAsync(HttpContext context, JobRoute route)
    {
        if (Owner(context) is not { } owner)
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status403Forbidden, "No owner", "A job belongs to a user: the token has no subject (sub).");
            return;
        }
        var (key, keyError) = ReadIdempotencyKey(context.Request);
        if (keyError is not null)
        {
            await BadRequestAsync(context, IdempotencyHeader, keyError);
            return;
        }
        if (await BoundedBody.ReadRequestAsync(context, route.MaxRequestBodySize) is not { } body)
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Request too large",
                $"A request of job '{route.Name}' may hold at most {route.MaxRequestBodySize} bytes.");
            return;
        }
        var (parameters, errors) = JobRequestReader.Read(route, body);
        if (errors.Count > 0)
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid job request",
                $"Invalid: {string.Join(", ", errors.Keys)}.", errors);
            return;
        }

        var now = clock.Now;
        var parametersJson = parameters.GetRawText();
        var job = new JobState
        {
            Id = Guid.CreateVersion7(now),
            Job = route.Name,
            Owner = owner,
            Roles = [.. context.User.FindAll("role").Select(c => c.Value).Distinct(StringComparer.Ordinal)],
            Parameters = parametersJson,
            RequestHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(parametersJson))),
            InQueue = route.InQueue,
            OutQueue = route.OutQueue,
            Lease = route.Lease,
            MaxAttempts = route.MaxAttempts,
            Status = JobStatuses.Queued,
            Attempt = 1,
            Sent = true,
            Due = now + options.Value.QueueTimeout,
            CreatedAt = now,
            UpdatedAt = now,
        };
        var (stored, created) = await store.CreateAsync(job, key);
        if (!created)
        {
            if (stored.RequestHash != job.RequestHash)
            {
                await GatewayProblems.WriteAsync(context, StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused",
                    $"This {IdempotencyHeader} was already used for a '{route.Name}' job with another request; use a new key for a new job.");
                return;
            }
            context.Response.Headers[ReplayedHeader] = "true";
            await WriteJobAsync(context, stored, StatusCodes.Status202Accepted);
            return;
        }
        metrics.Submitted(route.Name);
        Log.Submitted(logger, job.Id, route.Name, route.InQueue);
        // A failed send is recorded on the job and retried by the sweeper: the request is accepted either way, and a
        // client that hangs up now does not stop the send.
        await sender.SendAsync(job, CancellationToken.None);
        await WriteJobAsync(context, job, StatusCodes.Status202Accepted);
    }

    /// <summary><c>GET {StatusPath}/{id}</c>: the job's status, attempts, times and result, to its owner; 404 for anyone else.</summary>
    public async Task GetAsync(HttpContext context)
    {
        if (await FindOwnedAsync(context) is { } job)
        {
            await WriteJobAsync(context, job, StatusCodes.Status200OK);
        }
    }

    /// <summary><c>DELETE {StatusPath}/{id}</c>: cancels a queued job (204); 409 once a worker has it or it is final.</summary>
    public async Task CancelAsync(HttpContext context)
    {
        if (await FindOwnedAsync(context) is not { } found)
        {
            return;
        }
        var (before, after) = await store.UpdateAsync(found.Id, job => JobTransitions.Cancel(job, clock.Now));
        if (after is not null)
        {
            metrics.Finished(after.Job, after.Status);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }
        var status = before?.Status ?? found.Status;
        await GatewayProblems.WriteAsync(context, StatusCodes.Status409Conflict, "Job not cancellable",
            status == JobStatuses.Running
                ? "A worker is running this job; only a queued job can be cancelled."
                : $"The job is already {status}.");
    }

    private async Task<JobState?> FindOwnedAsync(HttpContext context)
    {
        var job = Guid.TryParse(context.Request.RouteValues["id"] as string, out var id) ? await store.GetAsync(id) : null;
        // Someone else's job answers exactly like a missing one, so job ids cannot be probed.
        if (job is null || Owner(context) is not { } owner || !string.Equals(job.Owner, owner, StringComparison.Ordinal))
        {
            await GatewayProblems.WriteAsync(context, StatusCodes.Status404NotFound, "No such job", "There is no job with this id for you.");
            return null;
        }
        return job;
    }

    private async Task WriteJobAsync(HttpContext context, JobState job, int status)
    {
        var response = context.Response;
        response.StatusCode = status;
        var location = $"{options.Value.StatusPath}/{job.Id:D}";
        if (status == StatusCodes.Status202Accepted)
        {
            response.Headers.Location = location;
        }
        if (!job.IsFinal)
        {
            response.Headers.RetryAfter = ((int)Math.Ceiling(options.Value.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        response.Headers.CacheControl = "no-store";
        response.ContentType = "application/json; charset=utf-8";
        await using var writer = new Utf8JsonWriter(response.Body);
        writer.WriteStartObject();
        writer.WriteString("id", job.Id);
        writer.WriteString("job", job.Job);
        writer.WriteString("status", job.Status);
        writer.WriteNumber("attempts", job.Attempt);
        writer.WriteNumber("maxAttempts", job.MaxAttempts);
        writer.WriteString("href", location);
        writer.WriteString("createdAt", job.CreatedAt);
        writer.WriteString("updatedAt", job.UpdatedAt);
        Time(writer, "startedAt", job.StartedAt);
        Time(writer, "heartbeatAt", job.HeartbeatAt);
        Time(writer, "nextAttemptAt", job.NextAttemptAt);
        Time(writer, "finishedAt", job.FinishedAt);
        if (job.Status == JobStatuses.Succeeded && job.Result is not null)
        {
            writer.WritePropertyName("result");
            writer.WriteRawValue(job.Result, skipInputValidation: true);
        }
        if (job.Error is not null)
        {
            writer.WriteString("error", job.Error);
        }
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);

        static void Time(Utf8JsonWriter writer, string name, DateTimeOffset? value)
        {
            if (value is { } v)
            {
                writer.WriteString(name, v);
            }
        }
    }

    private static string? Owner(HttpContext context) => context.User.FindFirst("sub")?.Value is { Length: > 0 } sub ? sub : null;

    private static (string? Key, string? Error) ReadIdempotencyKey(HttpRequest request)
    {
        if (!request.Headers.TryGetValue(IdempotencyHeader, out var values))
        {
            return (null, null);
        }
        var key = values.Count == 1 ? values[0] ?? "" : "";
        return values.Count != 1 || !IdempotencyKeys.IsValid(key)
            ? (null, $"Send one {IdempotencyHeader} of {IdempotencyKeys.Rule}.")
            : (key, null);
    }

    private static ValueTask BadRequestAsync(HttpContext context, string field, string message) =>
        GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid job request", $"Invalid: {field}.",
            new Dictionary<string, string[]> { [field] = [message] });

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Job {JobId} ({Job}) queued on {Queue}")]
        public static partial void Submitted(ILogger logger, Guid jobId, string job, string queue);

        [LoggerMessage(2, LogLevel.Warning, "The job store cannot be reached; {Path} answered 503")]
        public static partial void StoreUnavailable(ILogger logger, Exception exception, string path);
    }
}

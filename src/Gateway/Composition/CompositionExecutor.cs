using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Resilience;
using Portico.Gateway.Routing;
using Portico.Gateway.Security;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.Composition;

/// <summary>
/// Runs a composition: every step starts as soon as the steps it depends on have finished, so independent
/// steps run in parallel. A step whose outcome is unknown (a timeout, a reset, a lost reply) and that is idempotent
/// is sent again within its budget. A required step failing definitely makes the compensations of the steps that
/// succeeded run in reverse order; an optional step failing leaves its part out and says so; a step answering what
/// its <c>Expect</c> refuses stops the composition without compensating anything. With a <see cref="SagaJournal"/>
/// (a durable composition) every step's outcome is recorded before the run moves on, and an outcome that stays
/// unknown is never compensated: the answer is "pending", and a retry or the recovery worker settles it. Without one,
/// an idempotent step's outcome that stays unknown is not compensated either: the answer says it is unknown.
/// </summary>
internal sealed partial class CompositionExecutor(ClusterClient clusters, GrpcCaller grpc, GrpcDescriptors descriptors, ServiceTokenSource serviceTokens, CompositionTelemetry telemetry,
    TimeProvider time, ILogger<CompositionExecutor> logger)
{
    public const string PartialHeader = "Portico-Partial";

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private enum Outcome
    {
        Succeeded,
        Failed,     // definitely not applied
        Skipped,
        NotApplicable, // a step whose When does not hold (signed-in only, a query parameter): left out without being missing
        Unknown,    // may or may not have been applied
        Unexpected, // applied (or replayed), but its answer is not what the composition goes on with
    }

    /// <summary>What an answer, or its absence, says about whether the call was applied.</summary>
    private enum Verdict
    {
        Done,
        NotDone,
        NotDoneRetryable,
        Unknown,
    }

    private sealed record StepOutcome(StepPlan Step, Outcome Outcome, int Status, string Reason, StepResult? Result, long CompletedAt);

    private sealed record CallResult(int Status, StepResult? Result, string Reason, Verdict Verdict, string? GrpcStatus = null);

    /// <summary>
    /// The whole composition's <c>Timeout</c>, counted on the gateway's clock from the start of the run: it cancels every
    /// step in flight when it passes, and a gRPC step is told no more than what is left of it.
    /// </summary>
    private sealed class CompositionBudget(TimeSpan timeout, TimeProvider time) : IDisposable
    {
        private readonly long _started = time.GetTimestamp();

        public TimeSpan Timeout { get; } = timeout;

        public CancellationTokenSource Expiry { get; } = new(timeout, time);

        public bool Spent => Expiry.IsCancellationRequested;

        public TimeSpan Left => Timeout - time.GetElapsedTime(_started);

        public void Dispose() => Expiry.Dispose();
    }

    /// <summary>A composition that is not durable, answered in the request: the client going away cancels what is in flight.</summary>
    public async Task ExecuteAsync(HttpContext context, CompositionPlan plan)
    {
        var (body, _, problem) = await ReadBodyAsync(context, plan, plan.ReadsRequestBody);
        if (problem is not null)
        {
            await problem;
            return;
        }
        var scope = new CompositionScope(context, CompositionInput.Capture(context, plan, body));
        var answer = await RunAsync(plan, scope, journal: null, context.RequestAborted);
        await answer.WriteAsync(context);
    }

    /// <summary>
    /// Runs the steps (those <paramref name="journal"/> has settled already are taken from it) and decides the answer.
    /// <paramref name="clientAborted"/> cancels calls in flight; a durable run passes none, since its log decides.
    /// </summary>
    public async Task<CompositionAnswer> RunAsync(CompositionPlan plan, CompositionScope scope, SagaJournal? journal, CancellationToken clientAborted)
    {
        var started = time.GetTimestamp();
        using var activity = CompositionTelemetry.Source.StartActivity("composition " + plan.Name);
        activity?.SetTag("portico.composition", plan.Name);
        var traceId = Activity.Current?.TraceId.ToHexString() ?? scope.Input.RequestId;

        using var overall = new CompositionBudget(plan.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, overall.Expiry.Token);
        var tasks = new Dictionary<string, Task<StepOutcome>>(StringComparer.OrdinalIgnoreCase);
        for (var index = 0; index < plan.Steps.Count; index++)
        {
            var step = plan.Steps[index];
            var dependencies = new Task<StepOutcome>[step.DependsOn.Count];
            for (var i = 0; i < dependencies.Length; i++)
            {
                dependencies[i] = tasks[step.DependsOn[i]];
            }
            tasks[step.Name] = RunStepAsync(plan, step, index, dependencies, scope, journal, linked.Token, clientAborted, overall);
        }
        var outcomes = await Task.WhenAll(tasks.Values);

        var answer = await DecideAsync(plan, scope, journal, outcomes, traceId);
        telemetry.Composition(plan.Name, answer.Outcome, time.GetElapsedTime(started));
        return answer;
    }

    private async Task<CompositionAnswer> DecideAsync(CompositionPlan plan, CompositionScope scope, SagaJournal? journal, StepOutcome[] outcomes, string traceId)
    {
        // A replay that is not what the composition goes on with (an order since cancelled): nothing more, nothing undone.
        if (outcomes.Where(o => o.Outcome == Outcome.Unexpected).MinBy(o => o.CompletedAt) is { } unexpected)
        {
            return UnexpectedAnswer(plan, unexpected, scope, traceId);
        }
        // An unknown outcome is not a failure: compensating around it could leave half of what went through. Durable,
        // the log settles it later; otherwise a step marked Idempotent was sent again for its whole budget and its
        // outcome is still unknown, so nothing is undone and the answer says so. (A step that may not be sent again
        // had one attempt, and an unknown outcome of it counts as failed, as before.)
        var unknown = outcomes.Where(o => o.Outcome == Outcome.Unknown && o.Step.Required && (journal is not null || o.Step.Idempotent)).MinBy(o => o.CompletedAt);
        if (journal is not null && (unknown is not null || journal.Lost))
        {
            return PendingAnswer(plan, journal, unknown, compensating: false, traceId);
        }
        if (unknown is not null)
        {
            return UnknownAnswer(plan, unknown, outcomes, traceId);
        }

        // The steps missing from the answer, and the required one to blame (failed before skipped, then the earliest).
        StepOutcome? failed = null;
        var partial = new List<string>();
        foreach (var outcome in outcomes)
        {
            if (outcome.Outcome is not (Outcome.Failed or Outcome.Skipped or Outcome.Unknown))
            {
                continue;
            }
            partial.Add(outcome.Step.Name);
            if (outcome.Step.Required && (failed is null || (Rank(outcome), outcome.CompletedAt).CompareTo((Rank(failed), failed.CompletedAt)) < 0))
            {
                failed = outcome;
            }
        }
        if (failed is not null)
        {
            var (compensated, complete) = await CompensateAsync(plan, outcomes, scope, journal);
            if (journal is not null && !complete)
            {
                return PendingAnswer(plan, journal, failed, compensating: true, traceId);
            }
            return FailureAnswer(plan, failed, compensated, durable: journal is not null, traceId);
        }
        // The client going away after every step succeeded undoes nothing: what it asked for is done.
        return SuccessAnswer(plan, scope, outcomes, partial);

        static int Rank(StepOutcome o) => o.Outcome == Outcome.Skipped ? 1 : 0;
    }

    private async Task<StepOutcome> RunStepAsync(CompositionPlan plan, StepPlan step, int index, Task<StepOutcome>[] dependencies, CompositionScope scope,
        SagaJournal? journal, CancellationToken cancellationToken, CancellationToken clientAborted, CompositionBudget overall)
    {
        if (step.SignedInOnly && !scope.Input.SignedIn)
        {
            return new StepOutcome(step, Outcome.NotApplicable, StatusCodes.Status200OK, "the caller is not signed in", null, time.GetTimestamp());
        }
        if (step.RequiredQuery is { } parameter && !(scope.Input.Query.TryGetValue(parameter, out var value) && value.Length > 0))
        {
            return new StepOutcome(step, Outcome.NotApplicable, StatusCodes.Status200OK, $"the request has no '{parameter}'", null, time.GetTimestamp());
        }
        foreach (var dependency in await Task.WhenAll(dependencies))
        {
            if (dependency.Outcome == Outcome.NotApplicable)
            {
                return dependency with { Step = step };
            }
            if (dependency.Outcome != Outcome.Succeeded)
            {
                return new StepOutcome(step, Outcome.Skipped, StatusCodes.Status424FailedDependency, $"step '{dependency.Step.Name}' did not succeed", null, time.GetTimestamp());
            }
        }

        var record = journal?.Restored(step.Name);
        switch (record?.State)
        {
            // Settled by an earlier run: taken as it was, in plan order before anything this run does.
            case SagaStepState.Succeeded:
                scope.Complete(step.Name, record.Result!);
                return new StepOutcome(step, Outcome.Succeeded, record.Status, "", record.Result, index);
            case SagaStepState.Unexpected:
                scope.Complete(step.Name, record.Result!);
                return new StepOutcome(step, Outcome.Unexpected, record.Status, record.Reason, record.Result, index);
            case SagaStepState.Failed:
                return new StepOutcome(step, Outcome.Failed, record.Status, record.Reason, record.Result, index);
        }
        if (journal is not null && journal.Compensating && record is null)
        {
            // An earlier run failed: only steps that may have been applied are settled (sent again), none is started.
            return new StepOutcome(step, Outcome.Skipped, StatusCodes.Status424FailedDependency, "an earlier step failed", null, time.GetTimestamp());
        }

        var started = time.GetTimestamp();
        using var activity = CompositionTelemetry.Source.StartActivity("step " + step.Name, ActivityKind.Client);
        activity?.SetTag("portico.composition", plan.Name);
        activity?.SetTag("portico.step", step.Name);
        StepOutcome outcome;
        var attempts = record?.Attempts ?? 0;
        try
        {
            Func<int, Task<bool>>? beforeAttempt = journal is null ? null
                : attempt => journal.StepAsync(step.Name, new SagaStepRecord(SagaStepState.Started, attempts + attempt, 0, "", null));
            // An earlier run (before a restart or a takeover) sent this step and never learnt its outcome: it may
            // have been applied, so refusals in this run cannot make it "not done".
            var mayHaveBeenApplied = record is { State: SagaStepState.Started or SagaStepState.Unknown };
            var (call, tries) = await CallWithRetriesAsync(step.Cluster, step.Call, step.Idempotent, step.Timeout, step.AttemptTimeout, scope, null,
                beforeAttempt, cancellationToken, clientAborted, overall, mayHaveBeenApplied);
            attempts += tries;
            outcome = call.Verdict switch
            {
                Verdict.Done when Expected(step, call.Result!, scope) => new StepOutcome(step, Outcome.Succeeded, call.Status, "", call.Result, time.GetTimestamp()),
                Verdict.Done => new StepOutcome(step, Outcome.Unexpected, call.Status, "its answer is not what Expect accepts", call.Result, time.GetTimestamp()),
                Verdict.Unknown => new StepOutcome(step, Outcome.Unknown, call.Status, call.Reason, call.Result, time.GetTimestamp()),
                _ => new StepOutcome(step, Outcome.Failed, call.Status, call.Reason, call.Result, time.GetTimestamp()),
            };
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            outcome = new StepOutcome(step, Outcome.Failed, 499, "the client went away", null, time.GetTimestamp());
        }
        if (journal is not null)
        {
            var state = outcome.Outcome switch
            {
                Outcome.Succeeded => SagaStepState.Succeeded,
                Outcome.Unexpected => SagaStepState.Unexpected,
                Outcome.Failed => SagaStepState.Failed,
                _ => SagaStepState.Unknown,
            };
            // A failed write marks the journal lost: the steps after this one do not start.
            await journal.StepAsync(step.Name, new SagaStepRecord(state, Math.Max(attempts, 1), outcome.Status, outcome.Reason, outcome.Result));
        }
        activity?.SetTag("http.response.status_code", outcome.Status);
        activity?.SetTag("portico.step.attempts", attempts);
        if (outcome.Outcome != Outcome.Succeeded)
        {
            activity?.SetStatus(ActivityStatusCode.Error, outcome.Reason);
        }
        telemetry.Step(plan.Name, step.Name, outcome.Outcome.ToString(), time.GetElapsedTime(started));
        return outcome;
    }

    /// <summary>True when the step states no expectation, or its answer meets every condition (values compared ignoring case).</summary>
    private static bool Expected(StepPlan step, StepResult result, CompositionScope scope)
    {
        scope.Complete(step.Name, result);
        if (step.Expect is not { } expect)
        {
            return true;
        }
        foreach (var (reference, accepted) in expect.Conditions)
        {
            if (scope.Resolve(reference) is not { } value || !accepted.Contains(CompositionScope.AsText(value), StringComparer.OrdinalIgnoreCase))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Sends a call, and for an idempotent one sends it again while its outcome is unknown (or it was refused for now)
    /// and its budget lasts, with exponential backoff. <paramref name="beforeAttempt"/> records each attempt before it
    /// is sent; when it cannot, nothing is sent and the outcome is unknown to the composition.
    /// </summary>
    private async Task<(CallResult Result, int Attempts)> CallWithRetriesAsync(string cluster, HttpCall call, bool idempotent, TimeSpan budget,
        TimeSpan attemptTimeout, CompositionScope scope, string? idempotencyKey, Func<int, Task<bool>>? beforeAttempt, CancellationToken cancellationToken,
        CancellationToken clientAborted, CompositionBudget? overall, bool mayHaveBeenApplied = false)
    {
        var budgetStarted = time.GetTimestamp();
        using var budgetTimeout = new CancellationTokenSource(budget, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, budgetTimeout.Token);
        var delay = FirstRetryDelay;
        var earlierUnknown = mayHaveBeenApplied; // an attempt that may have been applied: a later "not done for now" says nothing about it
        for (var attempt = 1; ; attempt++)
        {
            if (overall?.Spent == true)
            {
                // A step whose turn comes after the composition's time is up is not sent at all (nor logged as sent).
                return (Settled(new CallResult(StatusCodes.Status504GatewayTimeout, null, $"the composition's {overall.Timeout} had passed before it was sent",
                    Verdict.NotDoneRetryable)), attempt - 1);
            }
            if (beforeAttempt is not null && !await beforeAttempt(attempt))
            {
                return (new CallResult(StatusCodes.Status503ServiceUnavailable, null, "its saga log could not be written, so it was not sent", Verdict.Unknown), attempt - 1);
            }
            CallResult result;
            using (var attemptTimeoutSource = new CancellationTokenSource(attemptTimeout, time))
            using (var attemptToken = CancellationTokenSource.CreateLinkedTokenSource(linked.Token, attemptTimeoutSource.Token))
            {
                try
                {
                    // A gRPC step's deadline (its grpc-timeout): the attempt's timeout, or what is left of the step's budget or of
                    // the whole composition's when less, so a step that starts late is not told it has time the composition has not.
                    var left = budget - time.GetElapsedTime(budgetStarted);
                    if (overall is not null && overall.Left < left)
                    {
                        left = overall.Left;
                    }
                    var deadline = left < attemptTimeout ? (left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1)) : attemptTimeout;
                    result = await SendAsync(cluster, call, scope, deadline, attemptToken.Token, idempotent, idempotencyKey);
                }
                catch (OperationCanceledException) when (!clientAborted.IsCancellationRequested)
                {
                    var which = overall?.Spent == true ? $"the composition's {overall.Timeout}"
                        : budgetTimeout.IsCancellationRequested ? $"its {budget}" : $"its attempt's {attemptTimeout}";
                    result = new CallResult(StatusCodes.Status504GatewayTimeout, null, $"no answer within {which}", Verdict.Unknown);
                }
                catch (ClusterCallException ex)
                {
                    // 503: refused, or no destination to send it to; 502 and 504: sent, and no answer came.
                    result = new CallResult(ex.Status, null, ex.Message,
                        ex.Status == StatusCodes.Status503ServiceUnavailable ? Verdict.NotDoneRetryable : Verdict.Unknown);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A reply cut off while being read, or this instance shutting down under the call.
                    Log.CallFailed(logger, cluster, ex.GetType().Name, ex.Message);
                    result = new CallResult(StatusCodes.Status502BadGateway, null, $"the call failed ({ex.GetType().Name})", Verdict.Unknown);
                }
            }
            if (result.Verdict is Verdict.Done or Verdict.NotDone || !idempotent || linked.IsCancellationRequested)
            {
                return (Settled(result), attempt);
            }
            earlierUnknown |= result.Verdict == Verdict.Unknown;
            try
            {
                await Task.Delay(delay, time, linked.Token);
            }
            catch (OperationCanceledException)
            {
                return (Settled(result), attempt);
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
        }

        // The budget ran out on a refusal (a cut connection, a 503) after an attempt whose outcome was unknown (a reply
        // lost, a timeout): that attempt may have been applied, late even, so the step's outcome is unknown, not failed.
        // Taken as failed, it would leave what it did (an order) without the later steps and without compensation.
        CallResult Settled(CallResult last) => earlierUnknown && last.Verdict == Verdict.NotDoneRetryable
            ? last with { Verdict = Verdict.Unknown, Reason = last.Reason + "; an earlier attempt's outcome is unknown" }
            : last;
    }

    /// <summary>RFC 9110 §9.2.2: the methods a call may be sent again with without an <c>Idempotency-Key</c>.</summary>
    private static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method);

    /// <summary>
    /// What an HTTP status says was done: 2xx done; 408, 425, 429 and 503 not done, worth another try; any other 4xx and
    /// 501 not done; 500 and the other 5xx (a proxy's 502/504 included) unknown — the service may have applied it.
    /// </summary>
    private static Verdict ForHttp(int status) => status switch
    {
        >= 200 and < 300 => Verdict.Done,
        408 or 425 or 429 or 503 => Verdict.NotDoneRetryable,
        < 500 or 501 => Verdict.NotDone,
        _ => Verdict.Unknown,
    };

    /// <summary>
    /// What a gRPC status says was done, when the service sent it: INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
    /// PERMISSION_DENIED, FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED and UNAUTHENTICATED not done;
    /// RESOURCE_EXHAUSTED, ABORTED and UNAVAILABLE not done, worth another try; CANCELLED, UNKNOWN, DEADLINE_EXCEEDED,
    /// INTERNAL and DATA_LOSS unknown. A status made on this side (reset, lost reply) is unknown.
    /// </summary>
    private static Verdict ForGrpc(GrpcReply reply) => reply switch
    {
        { IsOk: true } => Verdict.Done,
        { OutcomeUnknown: true } => Verdict.Unknown,
        { GrpcStatus: 3 or 5 or 6 or 7 or 9 or 11 or 12 or 16 } => Verdict.NotDone,
        { GrpcStatus: 8 or 10 or 14 } => Verdict.NotDoneRetryable,
        _ => Verdict.Unknown,
    };

    /// <summary>
    /// Sends one call through the cluster client (load balancing, breakers, the cluster's resilience policy).
    /// <paramref name="idempotencyKey"/>, when given, is sent as <c>Idempotency-Key</c>.
    /// </summary>
    private async Task<CallResult> SendAsync(string clusterId, HttpCall call, CompositionScope scope, TimeSpan timeout, CancellationToken cancellationToken,
        bool idempotent, string? idempotencyKey = null)
    {
        var authorization = scope.Input.Authorization;
        if (call.AsService)
        {
            (authorization, var why) = await serviceTokens.GetForClusterAsync(clusterId, cancellationToken);
            if (authorization is null)
            {
                return new CallResult(StatusCodes.Status503ServiceUnavailable, null, why, Verdict.NotDoneRetryable);
            }
        }
        if (call.Grpc is { } method)
        {
            return await SendGrpcAsync(clusterId, call, method, authorization, scope, idempotent || idempotencyKey is not null, timeout, cancellationToken);
        }
        if (call.Path.RenderPath(scope) is not { } path)
        {
            return new CallResult(StatusCodes.Status400BadRequest, null, "a value for its path is missing or is a dot segment", Verdict.NotDone);
        }
        var query = new StringBuilder();
        foreach (var (name, template) in call.Query)
        {
            if (template.RenderText(scope) is { } value)
            {
                query.Append(query.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
            }
        }
        var target = path + query;
        var extraHeaders = new List<(string Name, string Value)>();
        foreach (var (name, template) in call.Headers)
        {
            if (template.RenderText(scope, forHeader: true) is { Length: > 0 } value)
            {
                extraHeaders.Add((name, value));
            }
        }
        if (idempotencyKey is not null)
        {
            extraHeaders.Add((RequestSafety.IdempotencyKeyHeader, idempotencyKey));
        }
        var content = call.Body?.Render(scope);
        idempotent = idempotent || IsIdempotent(call.Method)
            || extraHeaders.Exists(h => h.Name.Equals(RequestSafety.IdempotencyKeyHeader, StringComparison.OrdinalIgnoreCase));

        ValueTask<HttpRequestMessage> CreateRequest(Yarp.ReverseProxy.Model.DestinationState destination, CancellationToken _)
        {
            var request = new HttpRequestMessage(new HttpMethod(call.Method), destination.Model.Config.Address.TrimEnd('/') + target) { Version = System.Net.HttpVersion.Version11 };
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }
            request.Headers.TryAddWithoutValidation("X-Request-Id", scope.Input.RequestId);
            foreach (var (name, value) in extraHeaders)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
            // Last, so not even a step's Headers template (a client's header copied) can say who the caller is.
            IdentityForwarding.Apply(request.Headers, scope.Input.Identity);
            if (content is not null)
            {
                request.Content = new ByteArrayContent(content);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }
            return ValueTask.FromResult(request);
        }

        using var response = await clusters.SendAsync(scope.Context, clusterId, idempotent, CreateRequest, cancellationToken);
        var bytes = await BoundedBody.ReadAsync(response.Content, cancellationToken);
        JsonElement? json = null;
        if (bytes.Length > 0 && response.Content.Headers.ContentType?.MediaType is { } type && type.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                using var document = JsonDocument.Parse(bytes);
                json = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                // Not JSON after all: kept as text.
            }
        }
        var headers = response.Headers.Concat(response.Content.Headers).ToDictionary(h => h.Key, h => string.Join(',', h.Value), StringComparer.OrdinalIgnoreCase);
        var status = (int)response.StatusCode;
        var result = new StepResult(status, headers, json, Encoding.UTF8.GetString(bytes));
        return new CallResult(status, result, $"cluster '{clusterId}' answered {status}", ForHttp(status));
    }

    /// <summary>
    /// A gRPC step: the rendered body becomes the request message and the reply (or the error) JSON, both by the method's
    /// descriptors as the gateway has them now; a service whose descriptors have not come yet is 503, nothing sent.
    /// </summary>
    private async Task<CallResult> SendGrpcAsync(string clusterId, HttpCall call, string name,
        string? authorization, CompositionScope scope, bool idempotent, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!descriptors.TryGetMethod(name, out var service, out var method) || service is null)
        {
            return service is null
                ? new CallResult(StatusCodes.Status503ServiceUnavailable, null, $"the gateway has no descriptors for {name} yet", Verdict.NotDoneRetryable)
                : new CallResult(StatusCodes.Status501NotImplemented, null, $"{service.Descriptor.FullName} has no unary method {name}", Verdict.NotDone);
        }
        byte[] request;
        try
        {
            request = GrpcJsonReader.ToProtobuf(call.Body?.Render(scope) ?? [], method.InputType, service.Json);
        }
        catch (GrpcJsonException ex)
        {
            return new CallResult(StatusCodes.Status400BadRequest, null, $"its request does not fit {method.InputType.FullName}: {ex.Message}", Verdict.NotDone);
        }
        var reply = await grpc.CallAsync(clusterId, method, request, authorization, scope.Input.RequestId, idempotent, timeout, cancellationToken, scope.Input.Identity);
        if (reply.GrpcStatus == 1)
        {
            // Grpc.Net.Client reports our own cancellation (a timeout, the client leaving) as CANCELLED: it is that.
            cancellationToken.ThrowIfCancellationRequested();
        }
        var status = GrpcCaller.StatusName(reply.GrpcStatus);
        string text;
        try
        {
            text = reply.IsOk
                ? GrpcJsonWriter.ToJson(reply.Message!, method.OutputType, service.Json with { FormatDefaultValues = true })
                : new JsonObject { ["grpcStatus"] = status, ["detail"] = reply.Detail }.ToJsonString();
        }
        catch (GrpcJsonException ex)
        {
            // Applied, but its answer cannot be read: as an unexpected answer would be, not as a failure to undo.
            return new CallResult(StatusCodes.Status502BadGateway, null, $"{method.FullName} answered a message that has no JSON form: {ex.Message}", Verdict.Unknown);
        }
        using var document = JsonDocument.Parse(text);
        var result = new StepResult(reply.HttpStatus, new Dictionary<string, string>(), document.RootElement.Clone(), text);
        return new CallResult(reply.HttpStatus, result, reply.IsOk ? "" : $"{method.FullName} answered {status}: {reply.Detail}", ForGrpc(reply), status);
    }

    /// <summary>
    /// Undoes the steps that succeeded, the last first. Each undo carries a key of its own, the same in every run of a
    /// saga, so the service applies it once however often it is sent, and is sent again within the step's budget; an
    /// answer the compensation lists in <c>AlreadyDone</c> (an order cancelled meanwhile) counts as undone. Returns
    /// what was undone, and whether everything was.
    /// </summary>
    private async Task<(List<string> Done, bool Complete)> CompensateAsync(CompositionPlan plan, StepOutcome[] outcomes, CompositionScope scope, SagaJournal? journal)
    {
        var done = new List<string>();
        var toUndo = outcomes.Where(o => o.Outcome == Outcome.Succeeded && o.Step.Compensate is not null).OrderByDescending(o => o.CompletedAt).ToList();
        if (toUndo.Count > 0 && journal is not null && !await journal.CompensatingAsync())
        {
            return (done, false);
        }
        var complete = true;
        foreach (var outcome in toUndo)
        {
            var step = outcome.Step;
            if (journal?.AlreadyUndone(step.Name) == true)
            {
                done.Add(step.Name);
                continue;
            }
            var call = step.Compensate!;
            var key = journal?.CompensationKey(step.Name) ?? $"{scope.Input.RequestId}:{step.Name}:undo";
            // Not tied to the client: an undo must run even after the client has gone.
            var (result, _) = await CallWithRetriesAsync(step.Cluster, call, idempotent: true, step.Timeout, step.Timeout, scope, key,
                beforeAttempt: null, CancellationToken.None, CancellationToken.None, overall: null);
            var undone = result.Verdict == Verdict.Done || call.AlreadyDone.Contains(TemplateText.Invariant(result.Status))
                || (result.GrpcStatus is { } name && call.AlreadyDone.Contains(name));
            if (undone)
            {
                done.Add(step.Name);
                if (journal is not null && !await journal.UndoneAsync(step.Name))
                {
                    complete = false;
                }
                continue;
            }
            complete = false;
            var body = call.Body is null ? "" : Encoding.UTF8.GetString(call.Body.Render(scope));
            var target = call.Grpc ?? call.Path.RenderPath(scope) ?? "(path unresolved)";
            if (journal is null)
            {
                telemetry.CompensationFailed(plan.Name, step.Name);
                Log.CompensationFailed(logger, plan.Name, step.Name, scope.Input.RequestId, call.Method, target, body, result.Reason);
            }
            else
            {
                Log.CompensationPending(logger, plan.Name, step.Name, journal.Key, call.Method, target, result.Reason);
            }
        }
        return (done, complete);
    }

    private static CompositionAnswer FailureAnswer(CompositionPlan plan, StepOutcome failed, List<string> compensated, bool durable, string traceId)
    {
        var status = failed.Status switch
        {
            >= 400 and < 500 and not 424 and not 499 => failed.Status,
            StatusCodes.Status504GatewayTimeout => StatusCodes.Status504GatewayTimeout,
            StatusCodes.Status503ServiceUnavailable or 0 => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status502BadGateway,
        };
        var detail = $"Step '{failed.Step.Name}' of '{plan.Name}' failed: {failed.Reason}."
            + (compensated.Count > 0 ? $" Undone: {string.Join(", ", compensated)}." : "")
            + (durable ? $" This is the outcome for this {RequestSafety.IdempotencyKeyHeader}; send a new one to try again." : "");
        var problem = new JsonObject
        {
            ["type"] = "https://portico.dev/problems/composition-step-failed",
            ["title"] = "Composition step failed",
            ["status"] = status,
            ["detail"] = detail,
            ["composition"] = plan.Name,
            ["step"] = failed.Step.Name,
            ["compensated"] = new JsonArray([.. compensated.Select(c => (JsonNode)c)]),
            ["traceId"] = traceId,
        };
        if (failed.Result?.Json is { } downstream && failed.Status is >= 400 and < 500)
        {
            problem["downstream"] = JsonNode.Parse(downstream.GetRawText());
        }
        return Problem(problem, status, compensated.Count > 0 ? "compensated" : "failed");
    }

    private static CompositionAnswer UnexpectedAnswer(CompositionPlan plan, StepOutcome outcome, CompositionScope scope, string traceId)
    {
        var expectation = outcome.Step.Expect!.Problem;
        var problem = new JsonObject
        {
            ["type"] = "https://portico.dev/problems/composition-unexpected-answer",
            ["title"] = expectation.Title.RenderText(scope) ?? "Unexpected answer",
            ["status"] = expectation.Status,
            ["detail"] = expectation.Detail.RenderText(scope) ?? $"Step '{outcome.Step.Name}' answered what the composition does not go on with.",
            ["composition"] = plan.Name,
            ["step"] = outcome.Step.Name,
            ["traceId"] = traceId,
        };
        return Problem(problem, expectation.Status, "unexpected");
    }

    /// <summary>Not durable: an idempotent step's outcome stayed unknown for its budget; what succeeded stands (nothing undone), and the answer says which.</summary>
    private static CompositionAnswer UnknownAnswer(CompositionPlan plan, StepOutcome unknown, StepOutcome[] outcomes, string traceId)
    {
        var status = unknown.Status == StatusCodes.Status504GatewayTimeout ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway;
        var succeeded = outcomes.Where(o => o.Outcome == Outcome.Succeeded).Select(o => o.Step.Name).ToList();
        var problem = new JsonObject
        {
            ["type"] = "https://portico.dev/problems/composition-outcome-unknown",
            ["title"] = "Outcome unknown",
            ["status"] = status,
            ["detail"] = $"The outcome of step '{unknown.Step.Name}' of '{plan.Name}' is not known ({unknown.Reason}): it was sent again within its budget "
                + "and may have been applied, so nothing was undone." + (succeeded.Count > 0 ? $" Done: {string.Join(", ", succeeded)}." : ""),
            ["composition"] = plan.Name,
            ["step"] = unknown.Step.Name,
            ["succeeded"] = new JsonArray([.. succeeded.Select(n => (JsonNode)n)]),
            ["traceId"] = traceId,
        };
        return Problem(problem, status, "unknown");
    }

    private static CompositionAnswer PendingAnswer(CompositionPlan plan, SagaJournal journal, StepOutcome? step, bool compensating, string traceId)
    {
        var what = compensating ? $"Step '{step!.Step.Name}' of '{plan.Name}' failed ({step.Reason}), and undoing the steps before it is not finished."
            : step is not null ? $"The outcome of step '{step.Step.Name}' of '{plan.Name}' is not known yet ({step.Reason})."
            : $"The saga log of '{plan.Name}' could not be written.";
        if (journal.LostBecause is { } because)
        {
            what += $" Its saga log could not be written: {because}.";
        }
        var status = step?.Status == StatusCodes.Status504GatewayTimeout && !compensating ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status503ServiceUnavailable;
        return PendingAnswer(plan, journal.Settings, step?.Step.Name, what, status, traceId);
    }

    /// <summary>The outcome is not settled yet: 503 (504 when a step timed out) with Retry-After, and nothing kept.</summary>
    internal static CompositionAnswer PendingAnswer(CompositionPlan plan, DurableSettings settings, string? step, string what, int status, string traceId)
    {
        var retryAfter = (long)Math.Ceiling(settings.RecoverAfter.TotalSeconds);
        var problem = new JsonObject
        {
            ["type"] = "https://portico.dev/problems/composition-pending",
            ["title"] = "Outcome pending",
            ["status"] = status,
            ["detail"] = what + $" Nothing is left half done: it will be completed or undone. Retry with the same {RequestSafety.IdempotencyKeyHeader} after {retryAfter} s to get the outcome.",
            ["composition"] = plan.Name,
            ["traceId"] = traceId,
        };
        if (step is not null)
        {
            problem["step"] = step;
        }
        return Problem(problem, status, CompositionAnswer.PendingOutcome, ("Retry-After", retryAfter.ToString(CultureInfo.InvariantCulture)));
    }

    private static CompositionAnswer Problem(JsonObject problem, int status, string outcome, params (string Name, string Value)[] headers) =>
        new(status, "application/problem+json", headers.ToDictionary(h => h.Name, h => h.Value, StringComparer.OrdinalIgnoreCase),
            Encoding.UTF8.GetBytes(problem.ToJsonString()), outcome);

    private static CompositionAnswer SuccessAnswer(CompositionPlan plan, CompositionScope scope, StepOutcome[] outcomes, List<string> partial)
    {
        byte[] bytes;
        if (plan.Response is { } template)
        {
            bytes = template.Render(scope);
        }
        else
        {
            var merged = new JsonObject();
            foreach (var outcome in outcomes.Where(o => o.Outcome == Outcome.Succeeded))
            {
                merged[outcome.Step.Name] = outcome.Result!.Json is { } json ? JsonNode.Parse(json.GetRawText()) : JsonValue.Create(outcome.Result.Text);
            }
            bytes = Encoding.UTF8.GetBytes(merged.ToJsonString());
        }
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (partial.Count > 0)
        {
            headers[PartialHeader] = string.Join(',', partial);
            if (JsonNode.Parse(bytes) is JsonObject withPartial)
            {
                withPartial["partial"] = new JsonArray([.. partial.Select(p => (JsonNode)p)]);
                bytes = Encoding.UTF8.GetBytes(withPartial.ToJsonString());
            }
        }
        return new CompositionAnswer(StatusCodes.Status200OK, "application/json; charset=utf-8", headers, bytes, partial.Count == 0 ? "succeeded" : "partial");
    }

    /// <summary>
    /// Reads the request body within the composition's limit: the raw bytes (empty when <paramref name="read"/> is false)
    /// and, when the plan's templates read it, the parsed JSON; or the problem to answer.
    /// </summary>
    internal static async Task<(JsonElement? Body, byte[] Raw, Task? Problem)> ReadBodyAsync(HttpContext context, CompositionPlan plan, bool read)
    {
        if (!read)
        {
            return (null, [], null);
        }
        try
        {
            if (await BoundedBody.ReadRequestAsync(context, plan.MaxRequestBodySize) is not { } bytes)
            {
                return (null, [], GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                    $"This composition accepts at most {plan.MaxRequestBodySize} bytes.").AsTask());
            }
            if (bytes.Length == 0 || !plan.ReadsRequestBody)
            {
                return (null, bytes, null);
            }
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32 });
            return (document.RootElement.Clone(), bytes, null);
        }
        catch (JsonException ex)
        {
            return (null, [], GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid JSON body",
                $"The request body is not valid JSON (line {ex.LineNumber + 1}).").AsTask());
        }
    }

    private static partial class Log
    {
        [LoggerMessage(400, LogLevel.Error, "Composition {Composition}: compensation of step {Step} still failed after retries; repair by hand. Request {RequestId}: {Method} {Path} body {Body}. Last error: {Reason}")]
        public static partial void CompensationFailed(ILogger logger, string composition, string step, string requestId, string method, string path, string body, string reason);

        [LoggerMessage(401, LogLevel.Warning, "Composition {Composition}: compensation of step {Step} failed for now; saga {Saga} stays open and recovery sends it again. {Method} {Path}. Last error: {Reason}")]
        public static partial void CompensationPending(ILogger logger, string composition, string step, string saga, string method, string path, string reason);

        [LoggerMessage(402, LogLevel.Warning, "A call to cluster {Cluster} failed with {Exception}: {Message}; its outcome is unknown")]
        public static partial void CallFailed(ILogger logger, string cluster, string exception, string message);
    }
}

using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Google.Protobuf.Reflection;
using Portico.Gateway.Resilience;
using Portico.Gateway.Routing;
using Portico.Gateway.Security;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.Composition;

/// <summary>
/// Runs a composition: every step starts as soon as the steps it depends on have finished, so independent
/// steps run in parallel. A required step failing makes the compensations of the steps that succeeded run
/// in reverse order; an optional step failing leaves its part out and says so.
/// </summary>
internal sealed partial class CompositionExecutor(ClusterClient clusters, GrpcCaller grpc, ServiceTokenSource serviceTokens, CompositionTelemetry telemetry,
    TimeProvider time, ILogger<CompositionExecutor> logger)
{
    public const string PartialHeader = "Portico-Partial";

    private enum Outcome
    {
        Succeeded,
        Failed,
        Skipped,
        NotApplicable, // a signed-in-only step for an anonymous caller: left out without being missing
    }

    private sealed record StepOutcome(StepPlan Step, Outcome Outcome, int Status, string Reason, StepResult? Result, long CompletedAt);

    public async Task ExecuteAsync(HttpContext context, CompositionPlan plan)
    {
        var started = time.GetTimestamp();
        using var activity = CompositionTelemetry.Source.StartActivity("composition " + plan.Name);
        activity?.SetTag("portico.composition", plan.Name);

        JsonElement? body = null;
        if (plan.ReadsRequestBody)
        {
            var (parsed, problem) = await ReadBodyAsync(context, plan);
            if (problem is not null)
            {
                await problem;
                return;
            }
            body = parsed;
        }

        var scope = new CompositionScope(context, body);
        using var overall = new CancellationTokenSource(plan.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, overall.Token);
        var tasks = new Dictionary<string, Task<StepOutcome>>(StringComparer.OrdinalIgnoreCase);
        foreach (var step in plan.Steps)
        {
            var dependencies = new Task<StepOutcome>[step.DependsOn.Count];
            for (var i = 0; i < dependencies.Length; i++)
            {
                dependencies[i] = tasks[step.DependsOn[i]];
            }
            tasks[step.Name] = RunStepAsync(plan, step, dependencies, scope, linked.Token, overall);
        }
        var outcomes = await Task.WhenAll(tasks.Values);

        // One pass: the steps that are missing from the answer, and the required one to blame (failed before
        // skipped, then the earliest).
        StepOutcome? failed = null;
        var partial = new List<string>();
        foreach (var outcome in outcomes)
        {
            if (outcome.Outcome is not (Outcome.Failed or Outcome.Skipped))
            {
                continue;
            }
            partial.Add(outcome.Step.Name);
            if (outcome.Step.Required && (failed is null || (outcome.Outcome, outcome.CompletedAt).CompareTo((failed.Outcome, failed.CompletedAt)) < 0))
            {
                failed = outcome;
            }
        }
        if (failed is not null || context.RequestAborted.IsCancellationRequested)
        {
            var compensated = await CompensateAsync(plan, outcomes, scope, context.TraceIdentifier);
            telemetry.Composition(plan.Name, "failed", time.GetElapsedTime(started));
            if (!context.RequestAborted.IsCancellationRequested && failed is not null)
            {
                await WriteFailureAsync(context, plan, failed, compensated);
            }
            return;
        }

        telemetry.Composition(plan.Name, partial.Count == 0 ? "succeeded" : "partial", time.GetElapsedTime(started));
        await WriteResponseAsync(context, plan, scope, outcomes, partial);
    }

    private async Task<StepOutcome> RunStepAsync(CompositionPlan plan, StepPlan step, Task<StepOutcome>[] dependencies, CompositionScope scope,
        CancellationToken cancellationToken, CancellationTokenSource overall)
    {
        if (step.SignedInOnly && scope.Context.User.Identity?.IsAuthenticated != true)
        {
            return new StepOutcome(step, Outcome.NotApplicable, StatusCodes.Status200OK, "the caller is not signed in", null, time.GetTimestamp());
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

        var started = time.GetTimestamp();
        using var activity = CompositionTelemetry.Source.StartActivity("step " + step.Name, ActivityKind.Client);
        activity?.SetTag("portico.composition", plan.Name);
        activity?.SetTag("portico.step", step.Name);
        using var stepTimeout = new CancellationTokenSource(step.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stepTimeout.Token);
        StepOutcome outcome;
        try
        {
            var (status, result, reason) = await SendAsync(step.Cluster, step.Call, scope, step.Timeout, linked.Token);
            if (result is not null && status is >= 200 and < 300)
            {
                scope.Complete(step.Name, result);
                outcome = new StepOutcome(step, Outcome.Succeeded, status, "", result, time.GetTimestamp());
            }
            else
            {
                outcome = new StepOutcome(step, Outcome.Failed, status, reason, result, time.GetTimestamp());
            }
        }
        catch (OperationCanceledException) when (!scope.Context.RequestAborted.IsCancellationRequested)
        {
            var which = overall.IsCancellationRequested ? $"the composition's {plan.Timeout}" : $"its {step.Timeout}";
            outcome = new StepOutcome(step, Outcome.Failed, StatusCodes.Status504GatewayTimeout, $"no answer within {which}", null, time.GetTimestamp());
        }
        catch (OperationCanceledException)
        {
            outcome = new StepOutcome(step, Outcome.Failed, 499, "the client went away", null, time.GetTimestamp());
        }
        catch (ClusterCallException ex)
        {
            outcome = new StepOutcome(step, Outcome.Failed, ex.Status, ex.Message, null, time.GetTimestamp());
        }
        activity?.SetTag("http.response.status_code", outcome.Status);
        if (outcome.Outcome != Outcome.Succeeded)
        {
            activity?.SetStatus(ActivityStatusCode.Error, outcome.Reason);
        }
        telemetry.Step(plan.Name, step.Name, outcome.Outcome.ToString(), time.GetElapsedTime(started));
        return outcome;
    }

    /// <summary>RFC 9110 §9.2.2: the methods a step may send again without an <c>Idempotency-Key</c>.</summary>
    private static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method);

    /// <summary>
    /// Sends one call through the cluster client (load balancing, breakers, the cluster's resilience policy).
    /// <paramref name="idempotencyKey"/>, when given, is sent as <c>Idempotency-Key</c> and lets the call be retried.
    /// </summary>
    private async Task<(int Status, StepResult? Result, string Reason)> SendAsync(string clusterId, HttpCall call, CompositionScope scope,
        TimeSpan timeout, CancellationToken cancellationToken, string? idempotencyKey = null)
    {
        var incoming = scope.Context.Request.Headers;
        string? authorization = incoming.Authorization.Count > 0 ? incoming.Authorization.ToString() : null;
        if (call.AsService)
        {
            (authorization, var why) = await serviceTokens.GetForClusterAsync(clusterId, cancellationToken);
            if (authorization is null)
            {
                return (StatusCodes.Status503ServiceUnavailable, null, why);
            }
        }
        if (call.Grpc is { } method)
        {
            return await SendGrpcAsync(clusterId, call, method, authorization, scope, idempotencyKey is not null, timeout, cancellationToken);
        }
        if (call.Path.RenderPath(scope) is not { } path)
        {
            return (StatusCodes.Status400BadRequest, null, "a value for its path is missing or is a dot segment");
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
        var idempotent = IsIdempotent(call.Method) || extraHeaders.Exists(h => h.Name.Equals(RequestSafety.IdempotencyKeyHeader, StringComparison.OrdinalIgnoreCase));

        ValueTask<HttpRequestMessage> CreateRequest(Yarp.ReverseProxy.Model.DestinationState destination, CancellationToken _)
        {
            var request = new HttpRequestMessage(new HttpMethod(call.Method), destination.Model.Config.Address.TrimEnd('/') + target) { Version = System.Net.HttpVersion.Version11 };
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }
            request.Headers.TryAddWithoutValidation("X-Request-Id", scope.Context.TraceIdentifier);
            foreach (var (name, value) in extraHeaders)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
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
        var result = new StepResult((int)response.StatusCode, headers, json, Encoding.UTF8.GetString(bytes));
        return ((int)response.StatusCode, result, $"cluster '{clusterId}' answered {(int)response.StatusCode}");
    }

    /// <summary>A gRPC step: the rendered body becomes the request message; the reply (or the error) becomes JSON.</summary>
    private async Task<(int Status, StepResult? Result, string Reason)> SendGrpcAsync(string clusterId, HttpCall call, MethodDescriptor method,
        string? authorization, CompositionScope scope, bool idempotent, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var json = call.Body is null ? "{}" : Encoding.UTF8.GetString(call.Body.Render(scope));
        if (GrpcJson.TryParse(json, method.InputType, out var error) is not { } request)
        {
            return (StatusCodes.Status400BadRequest, null, "its request " + error);
        }
        var reply = await grpc.CallAsync(clusterId, method, request, authorization, scope.Context.TraceIdentifier, idempotent, timeout, cancellationToken);
        var text = reply.IsOk
            ? GrpcJson.Format(reply.Message!)
            : new JsonObject { ["grpcStatus"] = GrpcCaller.StatusName(reply.GrpcStatus), ["detail"] = reply.Detail }.ToJsonString();
        using var document = JsonDocument.Parse(text);
        var result = new StepResult(reply.HttpStatus, new Dictionary<string, string>(), document.RootElement.Clone(), text);
        return (reply.HttpStatus, result, reply.IsOk ? "" : $"{method.FullName} answered {GrpcCaller.StatusName(reply.GrpcStatus)}: {reply.Detail}");
    }

    private async Task<List<string>> CompensateAsync(CompositionPlan plan, StepOutcome[] outcomes, CompositionScope scope, string requestId)
    {
        var done = new List<string>();
        foreach (var outcome in outcomes.Where(o => o.Outcome == Outcome.Succeeded && o.Step.Compensate is not null).OrderByDescending(o => o.CompletedAt))
        {
            var step = outcome.Step;
            var reason = "";
            using var timeout = new CancellationTokenSource(step.Timeout, time);
            try
            {
                // Not tied to the client: an undo must run even after the client has gone. Its key makes it safe for
                // the cluster's policy to retry (RFC 9110 §9.2.2) and for the service to apply it once.
                var (status, _, why) = await SendAsync(step.Cluster, step.Compensate!, scope, step.Timeout, timeout.Token, $"{requestId}:{step.Name}:undo");
                if (status is >= 200 and < 300)
                {
                    done.Add(step.Name);
                }
                else
                {
                    reason = why;
                }
            }
            catch (Exception ex) when (ex is ClusterCallException or OperationCanceledException)
            {
                reason = ex.Message;
            }
            if (reason.Length > 0)
            {
                telemetry.CompensationFailed(plan.Name, step.Name);
                var call = step.Compensate!;
                Log.CompensationFailed(logger, plan.Name, step.Name, requestId, call.Method, call.Path.RenderPath(scope) ?? "(path unresolved)",
                    call.Body is null ? "" : Encoding.UTF8.GetString(call.Body.Render(scope)), reason);
            }
        }
        return done;
    }

    private static Task WriteFailureAsync(HttpContext context, CompositionPlan plan, StepOutcome failed, List<string> compensated)
    {
        var status = failed.Status switch
        {
            >= 400 and < 500 and not 424 and not 499 => failed.Status,
            StatusCodes.Status504GatewayTimeout => StatusCodes.Status504GatewayTimeout,
            StatusCodes.Status503ServiceUnavailable or 0 => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status502BadGateway,
        };
        var detail = $"Step '{failed.Step.Name}' of '{plan.Name}' failed: {failed.Reason}."
            + (compensated.Count > 0 ? $" Undone: {string.Join(", ", compensated)}." : "");
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        var problem = new JsonObject
        {
            ["type"] = "https://portico.dev/problems/composition-step-failed",
            ["title"] = "Composition step failed",
            ["status"] = status,
            ["detail"] = detail,
            ["composition"] = plan.Name,
            ["step"] = failed.Step.Name,
            ["compensated"] = new JsonArray([.. compensated.Select(c => (JsonNode)c)]),
            ["traceId"] = Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier,
        };
        if (failed.Result?.Json is { } downstream && failed.Status is >= 400 and < 500)
        {
            problem["downstream"] = JsonNode.Parse(downstream.GetRawText());
        }
        return context.Response.WriteAsync(problem.ToJsonString(), context.RequestAborted);
    }

    private static async Task WriteResponseAsync(HttpContext context, CompositionPlan plan, CompositionScope scope, StepOutcome[] outcomes, List<string> partial)
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
        if (partial.Count > 0)
        {
            context.Response.Headers[PartialHeader] = string.Join(',', partial);
            if (JsonNode.Parse(bytes) is JsonObject withPartial)
            {
                withPartial["partial"] = new JsonArray([.. partial.Select(p => (JsonNode)p)]);
                bytes = Encoding.UTF8.GetBytes(withPartial.ToJsonString());
            }
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    private static async Task<(JsonElement? Body, Task? Problem)> ReadBodyAsync(HttpContext context, CompositionPlan plan)
    {
        try
        {
            if (await BoundedBody.ReadRequestAsync(context, plan.MaxRequestBodySize) is not { } bytes)
            {
                return (null, GatewayProblems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                    $"This composition accepts at most {plan.MaxRequestBodySize} bytes.").AsTask());
            }
            if (bytes.Length == 0)
            {
                return (null, null);
            }
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32 });
            return (document.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return (null, GatewayProblems.WriteAsync(context, StatusCodes.Status400BadRequest, "Invalid JSON body",
                $"The request body is not valid JSON (line {ex.LineNumber + 1}).").AsTask());
        }
    }

    private static partial class Log
    {
        [LoggerMessage(400, LogLevel.Error, "Composition {Composition}: compensation of step {Step} still failed after retries; repair by hand. Request {RequestId}: {Method} {Path} body {Body}. Last error: {Reason}")]
        public static partial void CompensationFailed(ILogger logger, string composition, string step, string requestId, string method, string path, string body, string reason);
    }
}

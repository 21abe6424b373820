using System.Globalization;
using System.Text.Json;
using Portico.Gateway.Configuration;
using Portico.Gateway.Store;
using Portico.Gateway.Transcoding;

namespace Portico.Gateway.Composition;

/// <summary>
/// Reads <c>Portico:Compositions</c> straight from the gateway file's JSON (templates are JSON), compiles the
/// templates, infers each step's dependencies from the steps its templates read, and rejects unknown
/// clusters, unknown step references, cycles and compensations that read a step not yet run. A durable composition
/// needs the shared store, steps that are all idempotent, and a recovery delay longer than a run can take.
/// </summary>
internal sealed class CompositionConfigSection(GrpcDescriptors descriptors, GatewayStore store) : IGatewayConfigSection
{
    private static readonly TimeSpan DefaultRetention = TimeSpan.FromDays(1);

    private static readonly HashSet<string> Methods = new(StringComparer.OrdinalIgnoreCase) { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE" };

    public object Read(GatewayConfigContext context)
    {
        var plans = new List<CompositionPlan>();
        if (context.Json.ValueKind != JsonValueKind.Object
            || !TryGet(context.Json, "Portico", out var portico)
            || !TryGet(portico, "Compositions", out var compositions))
        {
            return new CompositionSettings(plans);
        }
        var clusters = new HashSet<string>(context.Clusters.Select(c => c.ClusterId), StringComparer.OrdinalIgnoreCase);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var composition in compositions.EnumerateObject())
        {
            if (Read(composition.Name, composition.Value, clusters, context) is { } plan)
            {
                if (!seen.Add(plan.Method + " " + plan.Path))
                {
                    context.Errors.Add($"Composition '{plan.Name}': another composition already answers {plan.Method} {plan.Path}.");
                }
                plans.Add(plan);
            }
        }
        return new CompositionSettings(plans);
    }

    private CompositionPlan? Read(string name, JsonElement json, HashSet<string> clusters, GatewayConfigContext context)
    {
        var errors = context.Errors;
        var where = $"Composition '{name}'";
        var errorsBefore = errors.Count;
        var method = String(json, "Method") ?? "GET";
        var path = String(json, "Path");
        if (!Methods.Contains(method))
        {
            errors.Add($"{where}: unknown method '{method}'.");
        }
        if (path is null || !path.StartsWith('/'))
        {
            errors.Add($"{where}: Path must start with '/'.");
        }

        var steps = new Dictionary<string, (JsonElement Json, StepPlan Plan)>(StringComparer.OrdinalIgnoreCase);
        if (TryGet(json, "Steps", out var stepsJson) && stepsJson.ValueKind == JsonValueKind.Object)
        {
            foreach (var step in stepsJson.EnumerateObject())
            {
                steps[step.Name] = (step.Value, ReadStep(where, step.Name, step.Value, clusters, context));
            }
        }
        if (steps.Count == 0)
        {
            errors.Add($"{where}: needs at least one step.");
        }

        // Dependencies: explicit DependsOn plus every step a template reads.
        var dependencies = new Dictionary<string, HashSet<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (stepName, (_, plan)) in steps)
        {
            var deps = new HashSet<string>(plan.DependsOn, StringComparer.OrdinalIgnoreCase);
            foreach (var expression in plan.Call.Expressions.Where(e => e.Step is not null))
            {
                deps.Add(expression.Step!);
            }
            foreach (var dep in deps.Where(d => !steps.ContainsKey(d)))
            {
                errors.Add($"{where}: step '{stepName}' refers to unknown step '{dep}'.");
            }
            deps.IntersectWith(steps.Keys);
            deps.Remove(stepName);
            dependencies[stepName] = deps;
        }
        var order = TopologicalOrder(dependencies, out var cycle);
        if (cycle is not null)
        {
            errors.Add($"{where}: steps depend on each other in a cycle ({string.Join(" -> ", cycle)}).");
        }

        foreach (var (stepName, (_, plan)) in steps)
        {
            var allowed = Closure(stepName, dependencies);
            foreach (var expression in (plan.Compensate?.Expressions ?? []).Where(e => e.Step is not null && !allowed.Contains(e.Step!)))
            {
                errors.Add($"{where}: the compensation of step '{stepName}' reads step '{expression.Step}', which is not '{stepName}' or one of its dependencies.");
            }
            foreach (var expression in (plan.Expect?.Problem.Expressions ?? []).Where(e => e.Step is not null && !allowed.Contains(e.Step!)))
            {
                errors.Add($"{where}: the Unexpected problem of step '{stepName}' reads step '{expression.Step}', which is not '{stepName}' or one of its dependencies.");
            }
        }

        JsonTemplate? response = null;
        if (TryGet(json, "Response", out var responseJson))
        {
            response = JsonTemplate.Parse(responseJson, errors, $"{where} response");
            foreach (var expression in response.Expressions.Where(e => e.Step is not null && !steps.ContainsKey(e.Step!)))
            {
                errors.Add($"{where}: the response refers to unknown step '{expression.Step}'.");
            }
        }

        var timeout = Time(json, "Timeout", TimeSpan.FromSeconds(10), where, errors);
        var durable = ReadDurable(json, where, timeout, [.. steps.Values.Select(s => s.Plan)], errors);
        if (errors.Count > errorsBefore)
        {
            return null;
        }
        var ordered = order.Select(n => steps[n].Plan with { DependsOn = [.. dependencies[n]] }).ToList();
        return new CompositionPlan(name, method.ToUpperInvariant(), path!, String(json, "AuthorizationPolicy"),
            timeout, Long(json, "MaxRequestBodySize") ?? 64 * 1024, ordered, response)
        {
            Durable = durable,
        };
    }

    /// <summary>
    /// <c>"Durable": true</c>, or <c>{ "RecoverAfter": "00:01:00", "Retention": "1.00:00:00" }</c>. Recovery must not start
    /// while the owner may still be running: RecoverAfter has to exceed the composition's timeout plus every compensation's.
    /// </summary>
    private DurableSettings? ReadDurable(JsonElement json, string where, TimeSpan timeout, IReadOnlyList<StepPlan> steps, ICollection<string> errors)
    {
        if (!TryGet(json, "Durable", out var durable) || durable.ValueKind == JsonValueKind.False)
        {
            return null;
        }
        if (durable.ValueKind is not (JsonValueKind.True or JsonValueKind.Object))
        {
            errors.Add($"{where}: Durable must be true, false or an object with RecoverAfter and Retention.");
            return null;
        }
        if (!store.IsConfigured)
        {
            errors.Add($"{where}: a durable composition keeps its saga log in the shared store; set ConnectionStrings:{GatewayStore.ConnectionName}.");
        }
        // RFC 9110 §9.2.2: a GET, HEAD, PUT or DELETE may be sent again as it is.
        foreach (var step in steps.Where(s => !s.Idempotent && (s.Call.Grpc is not null || !IsIdempotentMethod(s.Call.Method))))
        {
            errors.Add($"{where}: step '{step.Name}' of a durable composition must be \"Idempotent\": true (the service applies a repeat once) or a GET, HEAD, PUT or DELETE, so an unknown outcome can be settled by sending it again.");
        }
        var longestRun = timeout + steps.Where(s => s.Compensate is not null).Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Timeout);
        var fallback = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(30).Ticks, 2 * longestRun.Ticks));
        var recoverAfter = durable.ValueKind == JsonValueKind.Object ? Time(durable, "RecoverAfter", fallback, where + " Durable", errors) : fallback;
        var retention = durable.ValueKind == JsonValueKind.Object ? Time(durable, "Retention", DefaultRetention, where + " Durable", errors) : DefaultRetention;
        if (recoverAfter <= longestRun)
        {
            errors.Add($"{where}: Durable RecoverAfter {recoverAfter} must be longer than a run can take ({longestRun}: the Timeout plus every compensation's step Timeout).");
        }
        if (retention <= recoverAfter)
        {
            errors.Add($"{where}: Durable Retention {retention} must be longer than RecoverAfter {recoverAfter}.");
        }
        return new DurableSettings(recoverAfter, retention);
    }

    private StepPlan ReadStep(string composition, string name, JsonElement json, HashSet<string> clusters, GatewayConfigContext context)
    {
        var errors = context.Errors;
        var where = $"{composition} step '{name}'";
        var cluster = String(json, "Cluster") ?? "";
        if (!clusters.Contains(cluster))
        {
            errors.Add($"{where}: unknown cluster '{cluster}'.");
        }
        var call = ReadCall(json, where, context);
        var compensate = TryGet(json, "Compensate", out var c) ? ReadCall(c, where + " compensation", context) with { AlreadyDone = AlreadyDone(c, where, errors) } : null;
        var dependsOn = TryGet(json, "DependsOn", out var d) && d.ValueKind == JsonValueKind.Array
            ? d.EnumerateArray().Select(x => x.GetString() ?? "").ToArray()
            : [];
        var required = !TryGet(json, "Required", out var r) || r.ValueKind != JsonValueKind.False;
        // "query:q": the step runs only when the request has a non-empty query parameter q (e.g. suggestions for a search).
        var when = String(json, "When") ?? "always";
        var requiredQuery = when.StartsWith("query:", StringComparison.Ordinal) ? when["query:".Length..] : null;
        if (when is not ("always" or "signed-in") && string.IsNullOrWhiteSpace(requiredQuery))
        {
            errors.Add($"{where}: When must be \"always\" (the default), \"signed-in\" or \"query:<parameter>\", not '{when}'.");
        }
        var timeout = Time(json, "Timeout", TimeSpan.FromSeconds(5), where, errors);
        var attemptTimeout = Time(json, "AttemptTimeout", timeout, where, errors);
        if (attemptTimeout > timeout)
        {
            errors.Add($"{where}: AttemptTimeout {attemptTimeout} is longer than the step's Timeout {timeout}.");
        }
        // Only a step that says so is sent again by the composition; the cluster's own policy still retries reads.
        var idempotent = false;
        if (TryGet(json, "Idempotent", out var i))
        {
            if (i.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                errors.Add($"{where}: Idempotent must be true or false.");
            }
            idempotent = i.ValueKind == JsonValueKind.True;
        }
        return new StepPlan(name, cluster, call, timeout, required, dependsOn, compensate, SignedInOnly: when == "signed-in")
        {
            RequiredQuery = requiredQuery,
            Idempotent = idempotent,
            AttemptTimeout = attemptTimeout,
            Expect = ReadExpect(json, name, where, errors),
        };
    }

    private static bool IsIdempotentMethod(string method) => method.ToUpperInvariant() is "GET" or "HEAD" or "PUT" or "DELETE";

    /// <summary>
    /// <c>"Expect": { "body.status": "Placed", "status": ["200", "201"] }</c>: references into the step's own answer and the
    /// values accepted; <c>"Unexpected": { "Status": 409, "Title": "…", "Detail": "Order {{steps.order.body.id}} is …" }</c>
    /// is the problem answered when one does not match.
    /// </summary>
    private static StepExpectation? ReadExpect(JsonElement json, string step, string where, ICollection<string> errors)
    {
        var hasProblem = TryGet(json, "Unexpected", out var problem);
        if (!TryGet(json, "Expect", out var expect))
        {
            if (hasProblem)
            {
                errors.Add($"{where}: Unexpected needs an Expect.");
            }
            return null;
        }
        if (expect.ValueKind != JsonValueKind.Object || !expect.EnumerateObject().Any())
        {
            errors.Add($"{where}: Expect must be an object of references into the step's answer (body.X, status, headers.X) and the values accepted.");
            return null;
        }
        var conditions = new List<(TemplateExpression, IReadOnlyList<string>)>();
        foreach (var condition in expect.EnumerateObject())
        {
            var reference = TemplateExpression.Parse($"steps.{step}.{condition.Name}", errors, where + " Expect");
            List<string> accepted = condition.Value.ValueKind switch
            {
                JsonValueKind.Array => [.. condition.Value.EnumerateArray().Select(v => v.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False ? TemplateText.Invariant(v) : "")],
                JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => [TemplateText.Invariant(condition.Value)],
                _ => [],
            };
            if (accepted.Count == 0 || accepted.Contains(""))
            {
                errors.Add($"{where}: Expect '{condition.Name}' must be a value or a list of values.");
            }
            conditions.Add((reference, accepted));
        }
        var status = hasProblem && TryGet(problem, "Status", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var n) ? n : 409;
        if (status is < 400 or > 599)
        {
            errors.Add($"{where}: Unexpected Status {status} must be a 4xx or 5xx status.");
        }
        var title = (hasProblem ? String(problem, "Title") : null) ?? "Unexpected answer";
        var detail = (hasProblem ? String(problem, "Detail") : null) ?? $"Step '{step}' answered what the composition does not go on with.";
        return new StepExpectation(conditions, new ExpectationProblem(status,
            StringTemplate.Parse(title, errors, where + " Unexpected"), StringTemplate.Parse(detail, errors, where + " Unexpected")));
    }

    /// <summary><c>"AlreadyDone": [409, "NOT_FOUND"]</c>: HTTP statuses or gRPC status names that mean the undo had happened already.</summary>
    private static HashSet<string> AlreadyDone(JsonElement compensate, string where, ICollection<string> errors)
    {
        var done = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (!TryGet(compensate, "AlreadyDone", out var list))
        {
            return done;
        }
        if (list.ValueKind != JsonValueKind.Array)
        {
            errors.Add($"{where} compensation: AlreadyDone must be a list of HTTP statuses or gRPC status names.");
            return done;
        }
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var status) && status is >= 400 and <= 599)
            {
                done.Add(TemplateText.Invariant(status));
            }
            else if (item.ValueKind == JsonValueKind.String && GrpcCaller.StatusCode(item.GetString()!) > 0)
            {
                done.Add(item.GetString()!);
            }
            else
            {
                errors.Add($"{where} compensation: AlreadyDone '{item}' is neither a 4xx/5xx status nor a gRPC status name such as NOT_FOUND.");
            }
        }
        return done;
    }

    private HttpCall ReadCall(JsonElement json, string where, GatewayConfigContext context)
    {
        var errors = context.Errors;
        var identity = String(json, "Identity") ?? "caller";
        if (identity is not ("caller" or "service"))
        {
            errors.Add($"{where}: Identity must be \"caller\" (the client's token, the default) or \"service\" (the gateway's own), not '{identity}'.");
        }
        if (String(json, "Grpc") is { } grpc)
        {
            // A service whose descriptors come at run time is checked when called (503 until they are there); a
            // compiled one now.
            var slash = grpc.IndexOf('/', StringComparison.Ordinal);
            var service = slash > 0 ? grpc[..slash] : "";
            if (slash <= 0 || slash == grpc.Length - 1 || !TranscodingConfigSection.IsDeclared(context, descriptors, service)
                || (descriptors.Compiled.Contains(service) && !descriptors.TryGetMethod(grpc, out _, out _)))
            {
                errors.Add($"{where}: unknown gRPC method '{grpc}' (package.Service/Method, its service listed under Portico:Transcoding:Services or compiled into the host).");
            }
            if (TryGet(json, "Path", out _) || TryGet(json, "Query", out _) || TryGet(json, "Method", out _))
            {
                errors.Add($"{where}: a gRPC call takes a Body only, no Method, Path or Query.");
            }
            return new HttpCall("POST", StringTemplate.Parse("/" + grpc, errors, where), [], Pairs(json, "Headers", where, errors),
                TryGet(json, "Body", out var message) ? JsonTemplate.Parse(message, errors, where) : null)
            {
                Grpc = grpc,
                AsService = identity == "service",
            };
        }
        var method = String(json, "Method") ?? "GET";
        if (!Methods.Contains(method))
        {
            errors.Add($"{where}: unknown method '{method}'.");
        }
        var path = String(json, "Path") ?? "";
        if (!path.StartsWith('/'))
        {
            errors.Add($"{where}: Path must start with '/'.");
        }
        return new HttpCall(method.ToUpperInvariant(), StringTemplate.Parse(path, errors, where),
            Pairs(json, "Query", where, errors), Pairs(json, "Headers", where, errors),
            TryGet(json, "Body", out var body) ? JsonTemplate.Parse(body, errors, where) : null)
        {
            AsService = identity == "service",
        };
    }

    private static List<(string, StringTemplate)> Pairs(JsonElement json, string property, string where, ICollection<string> errors) =>
        TryGet(json, property, out var pairs) && pairs.ValueKind == JsonValueKind.Object
            ? pairs.EnumerateObject().Select(p => (p.Name, StringTemplate.Parse(p.Value.GetString() ?? "", errors, where))).ToList()
            : [];

    /// <summary>Kahn's algorithm; on a cycle, names the steps left in it.</summary>
    private static List<string> TopologicalOrder(Dictionary<string, HashSet<string>> dependencies, out List<string>? cycle)
    {
        var remaining = dependencies.ToDictionary(d => d.Key, d => new HashSet<string>(d.Value, StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);
        var order = new List<string>();
        while (remaining.Count > 0)
        {
            var ready = remaining.Where(r => r.Value.Count == 0).Select(r => r.Key).OrderBy(k => k, StringComparer.Ordinal).ToList();
            if (ready.Count == 0)
            {
                cycle = [.. remaining.Keys.Order(StringComparer.Ordinal)];
                return order;
            }
            foreach (var step in ready)
            {
                remaining.Remove(step);
                order.Add(step);
                foreach (var deps in remaining.Values)
                {
                    deps.Remove(step);
                }
            }
        }
        cycle = null;
        return order;
    }

    private static HashSet<string> Closure(string step, Dictionary<string, HashSet<string>> dependencies)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { step };
        var stack = new Stack<string>([step]);
        while (stack.TryPop(out var current))
        {
            foreach (var dep in dependencies.GetValueOrDefault(current) ?? [])
            {
                if (seen.Add(dep))
                {
                    stack.Push(dep);
                }
            }
        }
        return seen;
    }

    private static bool TryGet(JsonElement json, string name, out JsonElement value)
    {
        if (json.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in json.EnumerateObject())
            {
                if (p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    value = p.Value;
                    return true;
                }
            }
        }
        value = default;
        return false;
    }

    private static string? String(JsonElement json, string name) => TryGet(json, name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long? Long(JsonElement json, string name) => TryGet(json, name, out var v) && v.TryGetInt64(out var n) ? n : null;

    private static TimeSpan Time(JsonElement json, string name, TimeSpan fallback, string where, ICollection<string> errors)
    {
        if (String(json, name) is not { } text)
        {
            return fallback;
        }
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value > TimeSpan.Zero)
        {
            return value;
        }
        errors.Add($"{where}: {name} '{text}' is not a positive time span.");
        return fallback;
    }
}

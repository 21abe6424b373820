namespace Portico.Gateway.Composition;

/// <summary>
/// One call of a step (or of its compensation), with its templates compiled: HTTP, or a unary gRPC method whose
/// request is the rendered JSON body. It carries the caller's token, or the gateway's own when <see cref="AsService"/>.
/// </summary>
internal sealed record HttpCall(
    string Method,
    StringTemplate Path,
    IReadOnlyList<(string Name, StringTemplate Value)> Query,
    IReadOnlyList<(string Name, StringTemplate Value)> Headers,
    JsonTemplate? Body)
{
    /// <summary>A gRPC method (<c>package.Service/Method</c>), found among the gateway's descriptors when called.</summary>
    public string? Grpc { get; init; }

    public bool AsService { get; init; }

    /// <summary>
    /// For a compensation: answers that mean the undo had already happened (an HTTP status such as "409", or a gRPC
    /// status name such as "NOT_FOUND"), so they count as compensated.
    /// </summary>
    public IReadOnlySet<string> AlreadyDone { get; init; } = new HashSet<string>();

    public IEnumerable<TemplateExpression> Expressions =>
        Path.Expressions.Concat(Query.SelectMany(q => q.Value.Expressions)).Concat(Headers.SelectMany(h => h.Value.Expressions))
            .Concat(Body?.Expressions ?? []);
}

/// <summary>
/// What a step's answer must say for the composition to go on (<c>"Expect": { "body.status": "Placed" }</c>): each
/// reference into the step's own answer must equal one of the listed values (ignoring case). When it does not,
/// the composition stops with the <see cref="Problem"/>: no further steps, no compensation.
/// </summary>
internal sealed record StepExpectation(IReadOnlyList<(TemplateExpression Reference, IReadOnlyList<string> Accepted)> Conditions, ExpectationProblem Problem);

/// <summary>The problem answered when an expectation fails; title and detail are templates.</summary>
internal sealed record ExpectationProblem(int Status, StringTemplate Title, StringTemplate Detail)
{
    public IEnumerable<TemplateExpression> Expressions => Title.Expressions.Concat(Detail.Expressions);
}

/// <summary>
/// A step; <see cref="SignedInOnly"/> steps run only for a signed-in caller, <see cref="RequiredQuery"/> steps only
/// when the request has that query parameter, and are simply absent otherwise.
/// <see cref="Idempotent"/>: the call may be sent again after it may have arrived (the service applies it once),
/// so an unknown outcome is retried within <see cref="Timeout"/>, each attempt within <see cref="AttemptTimeout"/>.
/// </summary>
internal sealed record StepPlan(string Name, string Cluster, HttpCall Call, TimeSpan Timeout, bool Required, IReadOnlyList<string> DependsOn, HttpCall? Compensate,
    bool SignedInOnly = false)
{
    public bool Idempotent { get; init; }

    /// <summary>A query parameter the request must carry, non-empty, for the step to run (<c>"When": "query:q"</c>).</summary>
    public string? RequiredQuery { get; init; }

    public TimeSpan AttemptTimeout { get; init; }

    public StepExpectation? Expect { get; init; }
}

/// <summary>
/// A durable composition keeps a saga log in the shared store, keyed by the client's <c>Idempotency-Key</c>: an
/// incomplete run is finished or compensated after <see cref="RecoverAfter"/> without news from its owner, and the
/// final answer is kept for <see cref="Retention"/>.
/// </summary>
internal sealed record DurableSettings(TimeSpan RecoverAfter, TimeSpan Retention);

/// <summary>A validated composition: steps in an order where every step comes after what it depends on.</summary>
internal sealed record CompositionPlan(
    string Name,
    string Method,
    string Path,
    string? AuthorizationPolicy,
    TimeSpan Timeout,
    long MaxRequestBodySize,
    IReadOnlyList<StepPlan> Steps,
    JsonTemplate? Response)
{
    public DurableSettings? Durable { get; init; }

    public IEnumerable<TemplateExpression> Expressions => Steps
        .SelectMany(s => s.Call.Expressions.Concat(s.Compensate?.Expressions ?? []).Concat(s.Expect?.Problem.Expressions ?? []))
        .Concat(Response?.Expressions ?? []);

    public bool ReadsRequestBody => Expressions.Any(e => e.Root == "request" && e.Path[0] == "body");

    public StepPlan? Step(string name) => Steps.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Every composition of one version of the gateway file.</summary>
internal sealed class CompositionSettings(IReadOnlyList<CompositionPlan> plans)
{
    public IReadOnlyList<CompositionPlan> Plans { get; } = plans;

    public CompositionPlan? Find(string name) => Plans.FirstOrDefault(p => p.Name.Equals(name, StringComparison.Ordinal));
}

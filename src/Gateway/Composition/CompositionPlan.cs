using Google.Protobuf.Reflection;

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
    public MethodDescriptor? Grpc { get; init; }

    public bool AsService { get; init; }

    public IEnumerable<TemplateExpression> Expressions =>
        Path.Expressions.Concat(Query.SelectMany(q => q.Value.Expressions)).Concat(Headers.SelectMany(h => h.Value.Expressions))
            .Concat(Body?.Expressions ?? []);
}

/// <summary>A step; <see cref="SignedInOnly"/> steps run only for a signed-in caller and are simply absent otherwise.</summary>
internal sealed record StepPlan(string Name, string Cluster, HttpCall Call, TimeSpan Timeout, bool Required, IReadOnlyList<string> DependsOn, HttpCall? Compensate,
    bool SignedInOnly = false);

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
    public bool ReadsRequestBody => Steps.SelectMany(s => s.Call.Expressions.Concat(s.Compensate?.Expressions ?? []))
        .Concat(Response?.Expressions ?? []).Any(e => e.Root == "request" && e.Path[0] == "body");
}

/// <summary>Every composition of one version of the gateway file.</summary>
internal sealed class CompositionSettings(IReadOnlyList<CompositionPlan> plans)
{
    public IReadOnlyList<CompositionPlan> Plans { get; } = plans;
}

using System.Diagnostics.Metrics;
using Portico.Gateway.Telemetry;

namespace Portico.Gateway.Resilience;

/// <summary>Counters of the <c>Portico.Gateway</c> meter for what resilience does.</summary>
internal sealed class ResilienceMetrics
{
    private readonly Counter<long> _retries;
    private readonly Counter<long> _budgetExhausted;
    private readonly Counter<long> _breakerTransitions;
    private readonly Counter<long> _shed;

    public ResilienceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(GatewayMeter.Name);
        _retries = meter.CreateCounter<long>("portico.gateway.retries", description: "Attempts sent again to another destination.");
        _budgetExhausted = meter.CreateCounter<long>("portico.gateway.retry_budget_exhausted", description: "Retries refused because the cluster's retry budget was spent.");
        _breakerTransitions = meter.CreateCounter<long>("portico.gateway.circuit_breaker.transitions", description: "Circuit breaker state changes.");
        _shed = meter.CreateCounter<long>("portico.gateway.shed", description: "Requests refused by a cluster's concurrency limit.");
    }

    public void Retry(string cluster, string reason) =>
        _retries.Add(1, new KeyValuePair<string, object?>("cluster", cluster), new KeyValuePair<string, object?>("reason", reason));

    public void BudgetExhausted(string cluster) => _budgetExhausted.Add(1, new KeyValuePair<string, object?>("cluster", cluster));

    public void BreakerTransition(string cluster, string state) =>
        _breakerTransitions.Add(1, new KeyValuePair<string, object?>("cluster", cluster), new KeyValuePair<string, object?>("state", state));

    public void Shed(string cluster) => _shed.Add(1, new KeyValuePair<string, object?>("cluster", cluster));
}

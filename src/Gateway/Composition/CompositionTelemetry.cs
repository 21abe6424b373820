using System.Diagnostics;
using System.Diagnostics.Metrics;
using Portico.Gateway.Telemetry;

namespace Portico.Gateway.Composition;

/// <summary>A span per composition and per step; durations, outcomes, failed compensations and saga recoveries as metrics.</summary>
internal sealed class CompositionTelemetry
{
    public static readonly ActivitySource Source = new("Portico.Gateway.Composition");

    private readonly Histogram<double> _composition;
    private readonly Histogram<double> _step;
    private readonly Counter<long> _compensationFailures;
    private readonly Counter<long> _recoveries;
    private readonly Counter<long> _sagaWrites;

    public CompositionTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(GatewayMeter.Name);
        _composition = meter.CreateHistogram<double>("portico.gateway.composition.duration", "s", "Composition run time by outcome.");
        _step = meter.CreateHistogram<double>("portico.gateway.composition.step.duration", "s", "Step run time by outcome.");
        _compensationFailures = meter.CreateCounter<long>("portico.gateway.composition.compensation_failures",
            description: "Compensations that still failed after their retries and need repair by hand.");
        _recoveries = meter.CreateCounter<long>("portico.gateway.composition.recoveries",
            description: "Durable composition runs taken over from an owner that went quiet, by outcome (succeeded, compensated, failed, unexpected, pending).");
        _sagaWrites = meter.CreateCounter<long>("portico.gateway.composition.saga_log.writes",
            description: "Saga-log writes that did not go through at once, by outcome: retried (the store did not take it), failed (still not within the retry budget), conflict (fenced off: the run has another owner).");
    }

    public void SagaWrite(string outcome) => _sagaWrites.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void Recovered(string composition, string outcome) =>
        _recoveries.Add(1, new("composition", composition), new("outcome", outcome));

    public void Composition(string name, string outcome, TimeSpan elapsed) =>
        _composition.Record(elapsed.TotalSeconds, new("composition", name), new("outcome", outcome));

    public void Step(string composition, string step, string outcome, TimeSpan elapsed) =>
        _step.Record(elapsed.TotalSeconds, new("composition", composition), new("step", step), new("outcome", outcome));

    public void CompensationFailed(string composition, string step) =>
        _compensationFailures.Add(1, new("composition", composition), new("step", step));
}

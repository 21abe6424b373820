using System.Diagnostics.Metrics;
using Portico.Gateway.Telemetry;

namespace Portico.Gateway.Jobs;

/// <summary>Job counters of the <c>Portico.Gateway</c> meter.</summary>
internal sealed class JobMetrics
{
    private readonly Counter<long> _submitted;
    private readonly Counter<long> _finished;
    private readonly Counter<long> _resent;
    private readonly Counter<long> _ignored;

    public JobMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(GatewayMeter.Name);
        _submitted = meter.CreateCounter<long>("portico.gateway.jobs.submitted", description: "Jobs created (an idempotent repeat is not counted).");
        _finished = meter.CreateCounter<long>("portico.gateway.jobs.finished", description: "Jobs that reached a final status, by job and status.");
        _resent = meter.CreateCounter<long>("portico.gateway.jobs.sent_again", description: "Attempts sent again by the sweeper after a failure, a lost worker or a failed send.");
        _ignored = meter.CreateCounter<long>("portico.gateway.jobs.late_messages", description: "Worker messages that changed nothing: a repeated result, or one for a job already final.");
    }

    public void Submitted(string job) => _submitted.Add(1, new KeyValuePair<string, object?>("job", job));

    public void Finished(string job, string status) =>
        _finished.Add(1, new KeyValuePair<string, object?>("job", job), new KeyValuePair<string, object?>("status", status));

    public void SentAgain(string job) => _resent.Add(1, new KeyValuePair<string, object?>("job", job));

    public void Ignored(string job) => _ignored.Add(1, new KeyValuePair<string, object?>("job", job));
}

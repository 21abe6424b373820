using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Portico.Messaging;

/// <summary>The <c>Portico.Messaging</c> meter: what was handled and how it ended, and what the outbox relayed.</summary>
internal sealed class MessagingMetrics
{
    public const string MeterName = "Portico.Messaging";
    public const string HandledName = "portico.messaging.handled";
    public const string OutboxPublishedName = "portico.messaging.outbox.published";

    private readonly Counter<long> _handled;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _outboxPublished;

    public MessagingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _handled = meter.CreateCounter<long>(HandledName, "{message}", "Deliveries handled, by queue, type and outcome (completed, retried, dead_lettered).");
        _duration = meter.CreateHistogram<double>("portico.messaging.handler.duration", "s", "How long handlers ran.");
        _outboxPublished = meter.CreateCounter<long>(OutboxPublishedName, "{message}", "Outbox rows the relay published.");
    }

    public void Handled(string queue, string messageType, string outcome, TimeSpan duration)
    {
        var tags = new TagList { { "messaging.destination.name", queue }, { "messaging.message.type", messageType }, { "outcome", outcome } };
        _handled.Add(1, tags);
        _duration.Record(duration.TotalSeconds, tags);
    }

    public void OutboxPublished(int count) => _outboxPublished.Add(count);

    public static class Outcomes
    {
        public const string Completed = "completed";
        public const string Retried = "retried";
        public const string DeadLettered = "dead_lettered";
    }
}

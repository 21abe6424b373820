using OpenTelemetry;
using OpenTelemetry.Logs;

namespace Portico.ServiceDefaults.Logging;

/// <summary>
/// Applies <see cref="LogRedaction"/> to each log record before it is exported over OTLP: the formatted message, the
/// body and every attribute. Registered first, so the exporter's batch only ever holds the redacted record.
/// </summary>
internal sealed class RedactingLogProcessor : BaseProcessor<LogRecord>
{
    public override void OnEnd(LogRecord data)
    {
        if (data.FormattedMessage is { } message)
        {
            data.FormattedMessage = LogRedaction.RedactText(message);
        }
        if (data.Body is { } body)
        {
            data.Body = LogRedaction.RedactText(body);
        }
        if (data.Attributes is { Count: > 0 } attributes && attributes.Any(NeedsRedaction))
        {
            data.Attributes = [.. attributes.Select(a => NeedsRedaction(a)
                ? new KeyValuePair<string, object?>(a.Key, LogRedaction.RedactValue(a.Key, Convert.ToString(a.Value, System.Globalization.CultureInfo.InvariantCulture) ?? ""))
                : a)];
        }
    }

    private static bool NeedsRedaction(KeyValuePair<string, object?> attribute) =>
        attribute.Value is not null && (LogRedaction.IsSecretName(attribute.Key)
            || attribute.Value is string text && !ReferenceEquals(LogRedaction.RedactText(text), text));
}

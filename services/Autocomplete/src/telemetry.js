// OpenTelemetry for the service, as ServiceDefaults does it for the .NET ones: traces, metrics and logs
// leave over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set (the AppHost sets it, with the protocol in
// OTEL_EXPORTER_OTLP_PROTOCOL); the exporters come from the standard OTEL_* variables. Without it, spans
// are still made (never exported) so that an incoming traceparent is continued and logs carry its trace id.
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export const SERVICE_NAME = 'autocomplete';

/** Starts the SDK; returns whether OTLP export is on and a shutdown function that flushes it. */
export function startTelemetry(env = process.env) {
  const otlp = typeof env.OTEL_EXPORTER_OTLP_ENDPOINT === 'string' && env.OTEL_EXPORTER_OTLP_ENDPOINT.length > 0;
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || SERVICE_NAME }),
    instrumentations: [],
    autoDetectResources: otlp,
    // Without an endpoint: spans are made but go nowhere, and no metric or log exporter is created.
    ...(otlp ? {} : { spanProcessors: [new NoopSpanProcessor()], metricReaders: [], logRecordProcessors: [] }),
  });
  sdk.start();
  return { otlp, shutdown: () => sdk.shutdown() };
}

const SEVERITY = { 10: SeverityNumber.TRACE, 20: SeverityNumber.DEBUG, 30: SeverityNumber.INFO, 40: SeverityNumber.WARN, 50: SeverityNumber.ERROR, 60: SeverityNumber.FATAL };

/**
 * A pino destination that sends each log line on as an OpenTelemetry log record (in the active span's
 * context, so the dashboard links it to its trace); used beside stdout when OTLP export is on.
 */
export function otelLogStream() {
  const logger = logs.getLogger(SERVICE_NAME);
  return {
    write(line) {
      let record;
      try { record = JSON.parse(line); } catch { return; }
      const { level, msg, time, pid, hostname, name, trace_id: traceId, span_id: spanId, ...attributes } = record;
      for (const [key, value] of Object.entries(attributes)) {
        if (value !== null && typeof value === 'object') attributes[key] = JSON.stringify(value);
      }
      logger.emit({
        severityNumber: SEVERITY[level] ?? SeverityNumber.INFO,
        severityText: pinoLevelName(level),
        body: msg,
        timestamp: time,
        attributes,
      });
    },
  };
}

const pinoLevelName = (level) => ({ 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' })[level] ?? 'INFO';

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

const SEVERITY = { trace: SeverityNumber.TRACE, debug: SeverityNumber.DEBUG, info: SeverityNumber.INFO, warn: SeverityNumber.WARN, error: SeverityNumber.ERROR, fatal: SeverityNumber.FATAL };

/**
 * A pino destination that sends each log line on as an OpenTelemetry log record (in the active span's
 * context, so the dashboard links it to its trace); used beside stdout when OTLP export is on. The line is the
 * ECS object of logger.js: the resource already says what the service, host and process are, the labels and
 * http/url/error fields become attributes.
 */
export function otelLogStream() {
  const logger = logs.getLogger(SERVICE_NAME);
  return {
    write(line) {
      let record;
      try { record = JSON.parse(line); } catch { return; }
      const {
        'log.level': level, message, '@timestamp': time, 'trace.id': traceId, 'span.id': spanId, 'process.pid': pid, 'host.hostname': hostname,
        'log.logger': name, 'service.name': service, 'service.node.name': node, 'ecs.version': version, 'event.dataset': dataset, labels, error, ...fields
      } = record;
      const attributes = { ...labels, ...fields };
      if (error) {
        attributes['exception.type'] = error.type;
        attributes['exception.message'] = error.message;
        attributes['exception.stacktrace'] = error.stack_trace;
      }
      logger.emit({
        severityNumber: SEVERITY[level] ?? SeverityNumber.INFO,
        severityText: (level ?? 'info').toUpperCase(),
        body: message,
        timestamp: time ? new Date(time) : undefined,
        attributes,
      });
    },
  };
}

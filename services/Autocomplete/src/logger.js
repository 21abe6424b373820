import os from 'node:os';
import { ecsFormat } from '@elastic/ecs-pino-format';
import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { otelLogStream, SERVICE_NAME } from './telemetry.js';

// Fields written under their own ECS names; anything else a call site logs goes under labels.* (ECS: keyword
// values), as the .NET services' ecs console format does, so every line fits deploy/observability's index template.
const ECS_FIELDS = new Set(['@timestamp', 'message', 'log.level', 'log.logger', 'ecs.version', 'service.name', 'service.node.name',
  'event.dataset', 'process.pid', 'host.hostname', 'trace.id', 'span.id', 'error', 'http.request.id', 'http.request.method',
  'http.response.status_code', 'url.path']);

/**
 * Structured JSON logs, one Elastic Common Schema object a line with the field names the .NET services use
 * (@timestamp, log.level, message, service.name, service.node.name, process.pid, trace.id, span.id, http.*, url.path,
 * error.*): the same Filebeat input and index template take both. Each line written inside a span carries its ids.
 */
export function createLogger({ level = process.env.LOG_LEVEL ?? 'info', destination = undefined, otlp = false, serviceName = process.env.OTEL_SERVICE_NAME || SERVICE_NAME } = {}) {
  const stream = otlp
    ? pino.multistream([{ level, stream: destination ?? process.stdout }, { level, stream: otelLogStream() }])
    : destination;
  const ecs = ecsFormat({ apmIntegration: false, convertErr: true, serviceName, serviceNodeName: `${os.hostname()}:${process.pid}` });
  const ecsLog = ecs.formatters.log;
  return pino({
    ...ecs,
    name: SERVICE_NAME,
    level,
    formatters: { ...ecs.formatters, log: (object) => asLabels(ecsLog(object)) },
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { 'trace.id': traceId, 'span.id': spanId };
    },
  }, stream);
}

function asLabels(object) {
  const labels = {};
  const ecs = {};
  for (const [key, value] of Object.entries(object)) {
    if (ECS_FIELDS.has(key) || value === undefined) ecs[key] = value;
    else labels[key.replace(/[^A-Za-z0-9_]/g, '_')] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return Object.keys(labels).length > 0 ? { ...ecs, labels } : ecs;
}

import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { otelLogStream } from './telemetry.js';

/** Structured JSON logs; each line written inside a span carries its trace_id and span_id. */
export function createLogger({ level = process.env.LOG_LEVEL ?? 'info', destination = undefined, otlp = false } = {}) {
  const stream = otlp
    ? pino.multistream([{ level, stream: destination ?? process.stdout }, { level, stream: otelLogStream() }])
    : destination;
  return pino({
    name: 'autocomplete',
    level,
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
  }, stream);
}

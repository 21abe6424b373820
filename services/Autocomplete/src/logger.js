import { trace } from '@opentelemetry/api';
import pino from 'pino';

/** Structured JSON logs; each line written inside a span carries its trace_id and span_id. */
export function createLogger({ level = process.env.LOG_LEVEL ?? 'info', destination = undefined } = {}) {
  return pino({
    name: 'autocomplete',
    level,
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
  }, destination);
}

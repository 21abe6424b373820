import { metrics as otelMetrics } from '@opentelemetry/api';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's Prometheus metrics, on a registry of its own (GET /metrics serves it). */
export function createMetrics({ defaultMetrics = false } = {}) {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'http_server_requests_total', help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'], registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_server_request_duration_seconds', help: 'Time to answer an HTTP request.',
    labelNames: ['method', 'route', 'status'], registers: [registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });
  const entries = new Gauge({ name: 'autocomplete_index_entries', help: 'Entries in the prefix index, by source.', labelNames: ['source'], registers: [registry] });
  const keys = new Gauge({ name: 'autocomplete_index_keys', help: 'Keys in the prefix index (word starts and initials).', registers: [registry] });
  const productsLoaded = new Gauge({ name: 'autocomplete_catalog_products_loaded', help: '1 once Catalog\'s products are in the index.', registers: [registry] });
  const refreshes = new Counter({ name: 'autocomplete_catalog_refreshes_total', help: 'Reads of Catalog\'s products, by result.', labelNames: ['result'], registers: [registry] });

  // The same request measurements for OTLP (the semantic-convention instrument the .NET services export).
  const otelDuration = otelMetrics.getMeter('autocomplete').createHistogram('http.server.request.duration', {
    unit: 's', description: 'Duration of HTTP server requests.',
  });

  return {
    registry,
    observeRequest(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
      otelDuration.record(seconds, { 'http.request.method': method, 'http.route': route, 'http.response.status_code': status });
    },
    indexChanged(index, loaded) {
      entries.set({ source: 'term' }, index.termCount);
      entries.set({ source: 'product' }, index.productCount);
      keys.set(index.keyCount);
      productsLoaded.set(loaded ? 1 : 0);
    },
    catalogRefreshed(result, index) {
      refreshes.inc({ result });
      if (result === 'success') this.indexChanged(index, true);
    },
  };
}

import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('autocomplete');

/**
 * Catalog's base addresses from Aspire-style service discovery variables: services__catalog__http__0,
 * services__catalog__http__1, … (https ones too), in index order.
 */
export function catalogEndpoints(env = process.env, service = 'catalog') {
  const pattern = new RegExp(`^services__${service}__(https?)__(\\d+)$`, 'i');
  return Object.entries(env)
    .map(([name, value]) => [name.match(pattern), value])
    .filter(([match, value]) => match !== null && typeof value === 'string' && value.length > 0)
    .sort(([a], [b]) => Number(a[2]) - Number(b[2]) || a[1].localeCompare(b[1]))
    .map(([, value]) => value.replace(/\/+$/, ''));
}

/** Reads every product from Catalog's GET /api/products, page by page. */
export class CatalogClient {
  constructor({ endpoints, pageSize = 100, timeoutMs = 5000, fetchImpl = globalThis.fetch }) {
    if (endpoints.length === 0) throw new Error('CatalogClient needs at least one endpoint.');
    this.endpoints = endpoints;
    this.pageSize = pageSize;
    this.timeoutMs = timeoutMs;
    this.fetch = fetchImpl;
  }

  /** All products, read from the endpoint for this attempt (attempts rotate over the endpoints). */
  async fetchAll(attempt = 0, signal = undefined) {
    const base = this.endpoints[attempt % this.endpoints.length];
    const products = [];
    for (let page = 1; ; page++) {
      const body = await this.#getPage(base, page, signal);
      if (!Array.isArray(body?.items)) throw new Error(`Catalog answered page ${page} without an items array.`);
      products.push(...body.items);
      const totalPages = Number(body.totalPages ?? Math.ceil(Number(body.totalCount) / Number(body.pageSize)));
      if (!(page < totalPages) || body.items.length === 0) return products;
    }
  }

  async #getPage(base, page, signal) {
    const url = `${base}/api/products?page=${page}&pageSize=${this.pageSize}`;
    return tracer.startActiveSpan('GET /api/products', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': url } }, async (span) => {
      try {
        const headers = { accept: 'application/json' };
        propagation.inject(context.active(), headers);
        const timeout = AbortSignal.timeout(this.timeoutMs);
        const response = await this.fetch(url, { headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
        span.setAttribute('http.response.status_code', response.status);
        if (!response.ok) throw new Error(`Catalog answered ${response.status} for ${url}.`);
        return await response.json();
      } catch (error) {
        span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        throw error;
      } finally {
        span.end();
      }
    });
  }
}

/**
 * Keeps the products in: reads them at start, retrying with capped exponential backoff and full jitter
 * until Catalog answers, then again every refresh period. A failed refresh keeps the products it has.
 */
export class CatalogRefresher {
  constructor({ client, suggestions, logger, metrics, refreshMs = 300_000, backoffBaseMs = 500, backoffMaxMs = 30_000, random = Math.random }) {
    Object.assign(this, { client, suggestions, logger, metrics, refreshMs, backoffBaseMs, backoffMaxMs, random });
    this.timer = null;
    this.stopped = false;
    this.abort = new AbortController();
    this.failures = 0;
  }

  start() {
    this.#schedule(0);
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
  }

  /** The wait before retry number `failures` (1-based): random in [0, min(max, base·2^(failures-1))). */
  backoff(failures) {
    return Math.floor(this.random() * Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(failures - 1, 30)));
  }

  #schedule(delayMs) {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.#refresh(), delayMs);
    this.timer.unref();
  }

  async #refresh() {
    try {
      const products = await this.client.fetchAll(this.failures, this.abort.signal);
      if (this.stopped) return;
      this.suggestions.setProducts(products);
      this.failures = 0;
      this.metrics?.catalogRefreshed('success', this.suggestions.index);
      this.logger.info({ products: products.length, entries: this.suggestions.index.entries.length }, 'catalog products loaded');
      this.#schedule(this.refreshMs);
    } catch (error) {
      if (this.stopped) return;
      this.failures++;
      const delay = this.backoff(this.failures);
      this.metrics?.catalogRefreshed('failure', this.suggestions.index);
      this.logger.warn({ err: { message: error.message }, attempt: this.failures, retryInMs: delay }, 'catalog products could not be read; retrying');
      this.#schedule(delay);
    }
  }
}

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace } from '@opentelemetry/api';

export const MAX_QUERY_LENGTH = 100;
export const MAX_LIMIT = 50;
export const DEFAULT_LIMIT = 10;
export const MAX_HEADER_BYTES = 8 * 1024;

const tracer = trace.getTracer('autocomplete');
export const OPENAPI_PATH = '/openapi/v1.json';
const ROUTES = new Set(['/complete', '/health/live', '/health/ready', '/metrics', OPENAPI_PATH]);
// The hand-maintained contract (openapi/v1.json), read once: the gateway merges it into the public document.
const OPENAPI_TEXT = readFileSync(new URL('../openapi/v1.json', import.meta.url), 'utf8');

class ProblemError extends Error {
  constructor(problem) {
    super(problem.title);
    this.problem = problem;
  }
}

const invalid = (errors) => new ProblemError({
  type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1',
  title: 'Invalid query parameters',
  status: 400,
  detail: `Invalid query parameter(s): ${Object.keys(errors).join(', ')}.`,
  errors,
});

/** Reads q and limit as the issue sets them; every bad parameter is named in one 400 problem. */
export function parseCompleteQuery(searchParams) {
  const errors = {};
  const qs = searchParams.getAll('q');
  const q = qs.length === 1 ? qs[0].trim() : '';
  if (qs.length > 1) errors.q = ['q must be given once.'];
  else if (q.length === 0) errors.q = ['q is required and must not be empty.'];
  else if ([...q].length > MAX_QUERY_LENGTH) errors.q = [`q must be at most ${MAX_QUERY_LENGTH} characters.`];

  const limits = searchParams.getAll('limit');
  let limit = DEFAULT_LIMIT;
  if (limits.length > 1) errors.limit = ['limit must be given once.'];
  else if (limits.length === 1) {
    limit = /^\s*\d{1,3}\s*$/.test(limits[0]) ? Number(limits[0]) : NaN;
    if (!(limit >= 1 && limit <= MAX_LIMIT)) errors.limit = [`limit must be a whole number from 1 to ${MAX_LIMIT}.`];
  }
  if (Object.keys(errors).length > 0) throw invalid(errors);
  return { q, limit };
}

/**
 * The HTTP service: GET /complete, health and metrics, on node:http. `suggestions` answers queries
 * (sync or async), `metrics` from createMetrics(); shutdown() is what SIGTERM runs.
 */
export function createAutocompleteServer({ suggestions, metrics, logger, shutdownTimeoutMs = 10_000 }) {
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    const started = process.hrtime.bigint();
    const route = ROUTES.has(pathOf(req.url)) ? pathOf(req.url) : 'other';
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    tracer.startActiveSpan(`${req.method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'http.route': route } }, parent, async (span) => {
      res.on('finish', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.observeRequest(req.method, route, res.statusCode, seconds);
        span.setAttribute('http.response.status_code', res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        // ECS names, as the .NET services' request lines; the query string (which may hold what a user typed) stays out.
        logger.debug({
          'http.request.method': req.method, 'url.path': pathOf(req.url), 'http.response.status_code': res.statusCode,
          ...(typeof req.headers['x-request-id'] === 'string' ? { 'http.request.id': req.headers['x-request-id'] } : {}),
          route, duration_ms: (seconds * 1000).toFixed(3),
        }, 'request answered');
      });
      try {
        await handle(req, res, route);
      } catch (error) {
        if (error instanceof ProblemError) {
          sendProblem(res, error.problem);
        } else {
          span.recordException(error);
          logger.error({ err: error, route }, 'request failed');
          sendProblem(res, { type: 'https://tools.ietf.org/html/rfc9110#section-15.6.1', title: 'An unexpected error occurred.', status: 500 });
        }
      }
    });
  });

  async function handle(req, res, route) {
    if (hasBody(req)) {
      res.setHeader('Connection', 'close'); // the body is never read, so the connection cannot be reused
      throw new ProblemError({ type: 'https://tools.ietf.org/html/rfc9110#section-15.5.14', title: 'Request bodies are not accepted.', status: 413 });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      throw new ProblemError({ type: 'https://tools.ietf.org/html/rfc9110#section-15.5.6', title: 'Method not allowed.', status: 405 });
    }
    switch (route) {
      case '/complete': {
        const { q, limit } = parseCompleteQuery(new URL(req.url, 'http://localhost').searchParams);
        const items = await suggestions.complete(q, limit);
        return sendJson(res, 200, {
          q,
          items: items.map((e) => (e.source === 'product' ? { term: e.term, score: e.score, source: e.source, productId: e.productId } : { term: e.term, score: e.score, source: e.source })),
        });
      }
      case OPENAPI_PATH:
        res.setHeader('Cache-Control', 'no-cache');
        return sendJson(res, 200, JSON.parse(OPENAPI_TEXT));
      case '/health/live':
        return sendText(res, 200, 'Healthy');
      case '/health/ready':
        // Ready once Catalog's products are in; until then the bundled terms still answer /complete.
        return suggestions.productsLoaded ? sendText(res, 200, 'Healthy') : sendText(res, 503, 'Unhealthy: Catalog products not loaded yet');
      case '/metrics': {
        metrics.indexChanged(suggestions.index, suggestions.productsLoaded);
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
        return res.end(text);
      }
      default:
        throw new ProblemError({ type: 'https://tools.ietf.org/html/rfc9110#section-15.5.5', title: 'Not found.', status: 404 });
    }
  }

  let closing = null;
  /** Stops accepting connections, lets in-flight requests finish, then resolves (forcing after the timeout). */
  function shutdown() {
    closing ??= new Promise((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), shutdownTimeoutMs);
      force.unref();
      server.close(() => { clearTimeout(force); resolve(); });
      server.closeIdleConnections();
    });
    return closing;
  }

  return { server, shutdown };
}

function pathOf(url) {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function hasBody(req) {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
}

function sendProblem(res, problem) {
  if (res.headersSent) { res.destroy(); return; }
  sendJson(res, problem.status, problem, 'application/problem+json; charset=utf-8');
}

function sendJson(res, status, body, contentType = 'application/json; charset=utf-8') {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

function sendText(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

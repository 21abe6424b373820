import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { CatalogClient, CatalogRefresher, catalogEndpoints } from '../src/catalog.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { createAutocompleteServer } from '../src/server.js';
import { Suggestions } from '../src/suggestions.js';

const silent = createLogger({ level: 'silent' });
const bundled = [
  { term: '감자', score: 500, source: 'term' },
  { term: '감사', score: 900, source: 'term' },
  { term: 'keyboard', score: 300, source: 'term' },
];

async function listen(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${server.address().port}`;
}

async function startService(suggestions = new Suggestions(bundled)) {
  const metrics = createMetrics();
  const app = createAutocompleteServer({ suggestions, metrics, logger: silent });
  const url = await listen(app.server);
  return { ...app, url, suggestions };
}

/** Polls until the condition holds, failing after the deadline. */
async function eventually(condition, deadlineMs = 5000) {
  const end = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > end) assert.fail('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends raw bytes and reads until the server closes or answers a full head. */
async function raw(url, bytes) {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(bytes);
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d) => { text += d; });
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 2000))]);
  socket.destroy();
  return text;
}

describe('GET /complete', () => {
  let service;
  before(async () => { service = await startService(); });
  after(async () => { await service.shutdown(); });

  it('answers q with ranked items', async () => {
    const res = await fetch(`${service.url}/complete?q=${encodeURIComponent('감')}&limit=5`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { q: '감', items: [{ term: '감사', score: 900, source: 'term' }, { term: '감자', score: 500, source: 'term' }] });
  });

  it('answers a choseong query and the keyboard-layout fallback', async () => {
    assert.deepEqual((await (await fetch(`${service.url}/complete?q=${encodeURIComponent('ㄱㅈ')}`)).json()).items.map((i) => i.term), ['감자']);
    assert.deepEqual((await (await fetch(`${service.url}/complete?q=rkawk`)).json()).items.map((i) => i.term), ['감자']);
  });

  for (const [query, parameter] of [['', 'q'], ['q=', 'q'], ['q=%20%20', 'q'], [`q=${'a'.repeat(101)}`, 'q'], ['q=a&q=b', 'q'],
    ['q=a&limit=0', 'limit'], ['q=a&limit=51', 'limit'], ['q=a&limit=abc', 'limit'], ['q=a&limit=1.5', 'limit'], ['q=a&limit=', 'limit']]) {
    it(`answers ?${query.slice(0, 20)} with a 400 problem naming ${parameter}`, async () => {
      const res = await fetch(`${service.url}/complete?${query}`);
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      const problem = await res.json();
      assert.equal(problem.status, 400);
      assert.deepEqual(Object.keys(problem.errors), [parameter]);
    });
  }

  it('accepts q of exactly 100 characters and limit 50', async () => {
    assert.equal((await fetch(`${service.url}/complete?q=${'가'.repeat(100)}&limit=50`)).status, 200);
  });

  it('refuses a request with a body', async () => {
    const res = await fetch(`${service.url}/complete?q=a`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 413);
  });

  it('refuses headers over 8 KB', async () => {
    const answer = await raw(service.url, `GET /complete?q=a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 431 /);
  });

  it('answers an unknown path with a 404 problem', async () => {
    const res = await fetch(`${service.url}/nowhere`);
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  });
});

describe('failures', () => {
  it('answers an unexpected error with a 500 problem without a stack trace and keeps serving', async () => {
    const suggestions = new Suggestions(bundled);
    let fail = true;
    const complete = suggestions.complete.bind(suggestions);
    suggestions.complete = (q, limit) => { if (fail) throw new Error('index exploded at /secret/path.js:1'); return complete(q, limit); };
    const service = await startService(suggestions);
    try {
      const res = await fetch(`${service.url}/complete?q=a`);
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      const body = await res.text();
      assert.doesNotMatch(body, /exploded|secret|at |\.js/);
      assert.equal(JSON.parse(body).status, 500);
      fail = false;
      assert.equal((await fetch(`${service.url}/complete?q=${encodeURIComponent('감')}`)).status, 200);
    } finally {
      await service.shutdown();
    }
  });
});

describe('health and metrics', () => {
  it('is live at once and ready only when Catalog products are in', async () => {
    const service = await startService();
    try {
      assert.equal((await fetch(`${service.url}/health/live`)).status, 200);
      assert.equal((await fetch(`${service.url}/health/ready`)).status, 503);
      service.suggestions.setProducts([{ id: 1, name: 'Potato Chips', nameKo: '감자칩' }]);
      assert.equal((await fetch(`${service.url}/health/ready`)).status, 200);
    } finally {
      await service.shutdown();
    }
  });

  it('serves Prometheus text with request counts, the duration histogram and the index size', async () => {
    const service = await startService();
    try {
      await fetch(`${service.url}/complete?q=a`);
      await fetch(`${service.url}/complete?q=`);
      const res = await fetch(`${service.url}/metrics`);
      assert.match(res.headers.get('content-type'), /^text\/plain/);
      const text = await res.text();
      assert.match(text, /http_server_requests_total\{method="GET",route="\/complete",status="200"\} 1/);
      assert.match(text, /http_server_requests_total\{method="GET",route="\/complete",status="400"\} 1/);
      assert.match(text, /http_server_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/complete",status="200"\} \d/);
      assert.match(text, /autocomplete_index_entries\{source="term"\} 3/);
      assert.match(text, /autocomplete_catalog_products_loaded 0/);
    } finally {
      await service.shutdown();
    }
  });
});

describe('shutdown', () => {
  it('lets an in-flight request finish, then stops accepting', async () => {
    const suggestions = new Suggestions(bundled);
    let release;
    const gate = new Promise((r) => { release = r; });
    suggestions.complete = async () => { await gate; return []; };
    const service = await startService(suggestions);
    const inFlight = fetch(`${service.url}/complete?q=a`);
    await eventually(async () => (await new Promise((r) => service.server.getConnections((_, n) => r(n)))) > 0);
    await new Promise((r) => setTimeout(r, 50));
    const stopped = service.shutdown();
    release();
    assert.equal((await inFlight).status, 200);
    await stopped;
    await assert.rejects(fetch(`${service.url}/health/live`));
  });

  it('the process continues traceparent, and on SIGTERM finishes and exits 0', async () => {
    const child = spawn(process.execPath, ['src/main.js'], { env: { ...process.env, PORT: '0', LOG_LEVEL: 'debug', OTEL_EXPORTER_OTLP_ENDPOINT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = [];
    let buffer = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buffer += d;
      let i;
      while ((i = buffer.indexOf('\n')) >= 0) { lines.push(JSON.parse(buffer.slice(0, i))); buffer = buffer.slice(i + 1); }
    });
    try {
      await eventually(() => lines.some((l) => l.message === 'listening'), 60_000); // the SDK loads slowly on a loaded machine
      const { port } = lines.find((l) => l.message === 'listening').labels;
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const res = await fetch(`http://127.0.0.1:${port}/complete?q=rkawk`, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
      assert.deepEqual((await res.json()).items.map((i) => i.term), ['감자']);
      await eventually(() => lines.some((l) => l.message === 'request answered' && l['trace.id'] === traceId));
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
      assert.ok(lines.some((l) => l.message === 'stopped'));
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('Catalog products', () => {
  it('reads service discovery variables in index order', () => {
    assert.deepEqual(catalogEndpoints({ services__catalog__http__1: 'http://b/', services__catalog__http__0: 'http://a', services__other__http__0: 'http://x' }), ['http://a', 'http://b']);
  });

  it('reads every page from Catalog after failures, with backoff, and the service becomes ready', async () => {
    const products = Array.from({ length: 5 }, (_, i) => ({ id: i + 1, name: `Potato ${i + 1}`, nameKo: `감자 ${i + 1}`, price: 1000, stock: 1, featured: false }));
    let calls = 0;
    const pages = [];
    const catalog = http.createServer((req, res) => {
      calls++;
      if (calls <= 2) { res.writeHead(503); res.end(); return; } // Catalog still starting
      const url = new URL(req.url, 'http://x');
      const page = Number(url.searchParams.get('page'));
      const pageSize = Number(url.searchParams.get('pageSize'));
      pages.push(page);
      const items = products.slice((page - 1) * pageSize, page * pageSize);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ items, page, pageSize, totalCount: products.length, totalPages: Math.ceil(products.length / pageSize) }));
    });
    const catalogUrl = await listen(catalog);
    const service = await startService();
    const delays = [];
    const refresher = new CatalogRefresher({
      client: new CatalogClient({ endpoints: [catalogUrl], pageSize: 2 }),
      suggestions: service.suggestions, logger: silent, backoffBaseMs: 10, backoffMaxMs: 40, random: () => 0.999, refreshMs: 60_000,
    });
    const backoff = refresher.backoff.bind(refresher);
    refresher.backoff = (n) => { const d = backoff(n); delays.push(d); return d; };
    try {
      const before = await (await fetch(`${service.url}/complete?q=${encodeURIComponent('감자')}`)).json();
      assert.deepEqual(before.items.map((i) => i.source), ['term']); // the bundled terms answer meanwhile
      refresher.start();
      await eventually(async () => (await fetch(`${service.url}/health/ready`)).status === 200);
      assert.deepEqual(delays, [9, 19]);
      assert.deepEqual(pages, [1, 2, 3]);
      const after = await (await fetch(`${service.url}/complete?q=${encodeURIComponent('감자')}&limit=3`)).json();
      assert.deepEqual(after.items.map((i) => [i.term, i.source, i.productId]), [['감자 1', 'product', 1], ['감자 2', 'product', 2], ['감자 3', 'product', 3]]);
      assert.equal((await (await fetch(`${service.url}/complete?q=pot&limit=50`)).json()).items.length, 5);
    } finally {
      refresher.stop();
      await service.shutdown();
      catalog.close();
    }
  });
});

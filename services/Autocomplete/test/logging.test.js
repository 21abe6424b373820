import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../src/logger.js';

// The index template the .NET services' ECS lines are checked against (tests/Observability.Tests): Node's lines
// go to the same data stream, so they must fit it the same way.
const template = JSON.parse(readFileSync(new URL('../../../deploy/observability/elasticsearch/portico-logs-template.json', import.meta.url), 'utf8'));
const declared = new Map();
(function collect(properties, prefix) {
  for (const [name, field] of Object.entries(properties)) {
    if (field.properties) collect(field.properties, `${prefix}${name}.`);
    else if (field.type && field.type !== 'object') declared.set(prefix + name, field.type);
  }
})(template.template.mappings.properties, '');
const dynamicPrefixes = template.template.mappings.dynamic_templates.flatMap((t) => Object.values(t))
  .map((t) => [t.path_match.replace(/\*$/, ''), t.mapping.type]);

/** What Elasticsearch would not index as declared: undeclared fields and values of the wrong type. */
function templateProblems(line, prefix = '') {
  const problems = [];
  for (const [name, value] of Object.entries(line)) {
    const path = prefix + name;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !declared.has(path)) {
      problems.push(...templateProblems(value, `${path}.`));
      continue;
    }
    const type = declared.get(path) ?? dynamicPrefixes.find(([p]) => path.startsWith(p))?.[1];
    if (!type) problems.push(`${path} is not in the index template`);
    else if (['keyword', 'match_only_text', 'text', 'wildcard'].includes(type) && typeof value !== 'string') problems.push(`${path} is ${typeof value}, mapped as ${type}`);
    else if (['long', 'integer'].includes(type) && !Number.isInteger(value)) problems.push(`${path} is ${typeof value}, mapped as ${type}`);
    else if (['date', 'date_nanos'].includes(type) && Number.isNaN(Date.parse(value))) problems.push(`${path} is not a date`);
  }
  return problems;
}

function capture() {
  const lines = [];
  const destination = new Writable({ write(chunk, _, done) { lines.push(...chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l))); done(); } });
  return { lines, destination };
}

describe('ECS log lines', () => {
  it('the template check refuses undeclared fields and wrong types (it can fail)', () => {
    assert.deepEqual(templateProblems({ 'user.password': 'x' }), ['user.password is not in the index template']);
    assert.deepEqual(templateProblems({ process: { pid: '12' } }), ['process.pid is string, mapped as long']);
  });

  it('a line has the ECS fields of the .NET services, other values as string labels, an error as error.*', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'debug', destination, serviceName: 'autocomplete-under-test' });
    logger.info({ products: 12, catalog: ['http://a'] }, 'catalog products loaded');
    logger.error({ err: new TypeError('index broken') }, 'request failed');

    const [info, error] = lines;
    assert.equal(info.message, 'catalog products loaded');
    assert.equal(info['log.level'], 'info');
    assert.equal(info['service.name'], 'autocomplete-under-test');
    assert.match(info['service.node.name'], /:\d+$/);
    assert.equal(info['process.pid'], process.pid);
    assert.equal(info['log.logger'], 'autocomplete');
    assert.ok(!Number.isNaN(Date.parse(info['@timestamp'])));
    assert.deepEqual(info.labels, { products: '12', catalog: '["http://a"]' });
    assert.equal(error['log.level'], 'error');
    assert.equal(error.error.type, 'TypeError');
    assert.equal(error.error.message, 'index broken');
    assert.match(error.error.stack_trace, /logging\.test\.js/);
    for (const line of lines) assert.deepEqual(templateProblems(line), [], JSON.stringify(line));
  });

  it('the running service writes request lines with the caller\'s trace id, the request id and http fields, every line fitting the template', async () => {
    const child = spawn(process.execPath, ['src/main.js'], {
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'debug', OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_SERVICE_NAME: 'autocomplete-under-test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = [];
    let buffer = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buffer += d;
      let i;
      while ((i = buffer.indexOf('\n')) >= 0) { lines.push(JSON.parse(buffer.slice(0, i))); buffer = buffer.slice(i + 1); }
    });
    let errors = '';
    child.stderr.setEncoding('utf8').on('data', (d) => { errors += d; });
    // A deadline, not a wait: loading the OpenTelemetry SDK takes seconds on a loaded 2-core machine.
    const eventually = async (condition, deadlineMs = 15_000) => {
      const end = Date.now() + deadlineMs;
      while (!condition()) {
        if (Date.now() > end) assert.fail(`condition not met; lines:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${errors}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await eventually(() => lines.some((l) => l.message === 'listening'), 60_000);
      const { port } = lines.find((l) => l.message === 'listening').labels;
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const res = await fetch(`http://127.0.0.1:${port}/complete?q=secret-typed-text`, {
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-request-id': 'req-42' },
      });
      assert.equal(res.status, 200);
      await eventually(() => lines.some((l) => l.message === 'request answered' && l['trace.id'] === traceId));
      const line = lines.find((l) => l.message === 'request answered' && l['trace.id'] === traceId);
      assert.match(line['span.id'], /^[0-9a-f]{16}$/);
      assert.notEqual(line['span.id'], '00f067aa0ba902b7'); // the service's own span, child of the caller's
      assert.equal(line['service.name'], 'autocomplete-under-test');
      assert.equal(line['http.request.id'], 'req-42');
      assert.equal(line['http.request.method'], 'GET');
      assert.equal(line['url.path'], '/complete');
      assert.equal(line['http.response.status_code'], 200);
      assert.ok(!JSON.stringify(lines).includes('secret-typed-text'), 'the query string stays out of the logs');
      for (const l of lines) assert.deepEqual(templateProblems(l), [], JSON.stringify(l));
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit').catch(() => {});
    }
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { OPENAPI_PATH, createAutocompleteServer } from '../src/server.js';
import { Suggestions } from '../src/suggestions.js';

// The hand-maintained document must say what the server does: these checks fail when one drifts from the other.
describe('GET /openapi/v1.json', () => {
  let service;
  let url;
  let document;
  before(async () => {
    const suggestions = new Suggestions([{ term: '감자', score: 500, source: 'term' }]);
    suggestions.setProducts([{ id: 7, name: '감귤', nameKo: '감귤' }]);
    service = createAutocompleteServer({ suggestions, metrics: createMetrics(), logger: createLogger({ level: 'silent' }) });
    service.server.listen(0, '127.0.0.1');
    await once(service.server, 'listening');
    url = `http://127.0.0.1:${service.server.address().port}`;
    const res = await fetch(`${url}${OPENAPI_PATH}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    document = await res.json();
  });
  after(async () => { await service.shutdown(); });

  it('is an OpenAPI 3.1 document with the /complete operation', () => {
    assert.match(document.openapi, /^3\.1\.\d+$/);
    assert.ok(document.paths['/complete'].get);
    assert.deepEqual(Object.keys(document.paths), ['/complete']);
  });

  it('declares every query parameter the server reads, with its bounds', () => {
    const parameters = Object.fromEntries(document.paths['/complete'].get.parameters.map((p) => [p.name, p]));
    assert.deepEqual(Object.keys(parameters).sort(), ['limit', 'q']);
    assert.equal(parameters.q.required, true);
    assert.equal(parameters.q.schema.maxLength, 100);
    assert.equal(parameters.limit.schema.maximum, 50);
  });

  it('describes the real answer: every field of it is declared and every required field is there', async () => {
    const body = await (await fetch(`${url}/complete?q=${encodeURIComponent('감')}`)).json();
    const schemas = document.components.schemas;
    const completion = schemas.Completion;
    for (const field of completion.required) assert.ok(field in body, `answer lacks required ${field}`);
    for (const field of Object.keys(body)) assert.ok(field in completion.properties, `answer has undeclared ${field}`);
    assert.ok(body.items.length > 0);
    for (const item of body.items) {
      for (const field of schemas.Suggestion.required) assert.ok(field in item, `suggestion lacks required ${field}`);
      for (const field of Object.keys(item)) assert.ok(field in schemas.Suggestion.properties, `suggestion has undeclared ${field}`);
      assert.ok(schemas.Suggestion.properties.source.enum.includes(item.source));
    }
  });

  it('declares the 400 problem the server answers for a bad parameter', async () => {
    const res = await fetch(`${url}/complete?q=a&limit=0`);
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type'), /^application\/problem\+json/);
    assert.ok(document.paths['/complete'].get.responses['400'].content['application/problem+json']);
  });
});

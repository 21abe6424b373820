import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { generateTerms, TERMS_FILE } from '../scripts/generate-terms.js';

it('the committed term list is what the generator makes from the locked packages, with 10,000+ terms in both languages', () => {
  const text = generateTerms();
  assert.equal(readFileSync(TERMS_FILE, 'utf8'), text);
  const rows = text.trim().split('\n').slice(1).map((line) => line.split('\t'));
  assert.ok(rows.length >= 10_000);
  assert.ok(rows.filter((r) => r[2] === 'ko').length >= 5_000);
  assert.ok(rows.filter((r) => r[2] === 'en').length >= 5_000);
  assert.ok(rows.every((r) => Number(r[1]) > 0));
});

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TERMS_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'data', 'terms.tsv');

/** Reads the bundled term list (scripts/generate-terms.js writes it) as index entries. */
export function loadTerms(file = TERMS_FILE) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const entries = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].length === 0) continue;
    const [term, frequency] = lines[i].split('\t');
    entries.push({ term, score: Number(frequency), source: 'term' });
  }
  return entries;
}

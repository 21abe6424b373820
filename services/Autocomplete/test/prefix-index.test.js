import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrefixIndex } from '../src/prefix-index.js';
import { Suggestions } from '../src/suggestions.js';
import { loadTerms } from '../src/terms.js';
import { toChoseong, toKeyJamo } from '../src/hangul.js';

const term = (text, score) => ({ term: text, score, source: 'term' });
const terms = (index, q, limit = 10) => index.complete(q, limit).map((e) => e.term);

const korean = new PrefixIndex([
  term('감자', 50), term('감자탕', 40), term('고구마', 45), term('가나다', 5), term('과자', 30), term('달걀', 20),
  term('김치', 60), term('김치찌개', 25), term('감', 10), term('거절', 3),
]);

describe('hangul keys', () => {
  it('splits syllables into the keys typed, compound vowels and final clusters included', () => {
    assert.equal(toKeyJamo('감자'), 'ㄱㅏㅁㅈㅏ');
    assert.equal(toKeyJamo('과'), 'ㄱㅗㅏ');
    assert.equal(toKeyJamo('닭'), 'ㄷㅏㄹㄱ');
    assert.equal(toChoseong('감자 튀김'), 'ㄱㅈㅌㄱ');
  });
});

describe('PrefixIndex', () => {
  it('finds terms by prefix', () => {
    assert.deepEqual(terms(new PrefixIndex([term('apple', 3), term('apply', 2), term('banana', 9)]), 'app'), ['apple', 'apply']);
  });

  it('ranks by frequency, then length, then text', () => {
    const index = new PrefixIndex([term('abc', 1), term('abd', 5), term('ab', 1), term('abz', 1), term('abcd', 5)]);
    assert.deepEqual(terms(index, 'ab'), ['abd', 'abcd', 'ab', 'abc', 'abz']);
  });

  it('is case-insensitive and NFKC-normalised (full-width Latin, decomposed Hangul)', () => {
    const index = new PrefixIndex([term('Wireless Mouse', 9), term('감자', 5)]);
    assert.deepEqual(terms(index, 'WIRE'), ['Wireless Mouse']);
    assert.deepEqual(terms(index, 'ｗｉｒｅ'), ['Wireless Mouse']);
    assert.deepEqual(terms(index, '감자'.normalize('NFD')), ['감자']);
  });

  it('matches from the start of every word', () => {
    const index = new PrefixIndex([term('무선 키보드', 9), term('Wireless Keyboard', 9)]);
    assert.deepEqual(terms(index, '키보'), ['무선 키보드']);
    assert.deepEqual(terms(index, 'key'), ['Wireless Keyboard']);
  });

  it('finds Korean by initial consonants (choseong)', () => {
    assert.deepEqual(terms(korean, 'ㄱㅈ'), ['감자', '감자탕', '과자', '거절']);
    assert.deepEqual(terms(new PrefixIndex([term('무선 키보드', 1)]), 'ㅁㅅㅋ'), ['무선 키보드']);
  });

  it('matches a syllable still being composed', () => {
    assert.ok(terms(korean, '가').includes('감자'));
    assert.deepEqual(terms(korean, '감ㅈ'), ['감자', '감자탕']);
    assert.deepEqual(terms(korean, '간'), ['가나다']); // the next syllable's ㄴ shown as 간's final
    assert.deepEqual(terms(korean, '고'), ['고구마', '과자']); // ㅘ is typed ㅗ then ㅏ
    assert.deepEqual(terms(korean, '닭'), ['달걀']); // ㄺ is typed ㄹ then ㄱ
  });

  it('handles Korean, English and digits mixed', () => {
    const index = new PrefixIndex([term('27인치 모니터', 3), term('USB-C 허브', 2), term('외장 SSD 1TB', 1)]);
    assert.deepEqual(terms(index, '27인'), ['27인치 모니터']);
    assert.deepEqual(terms(index, 'usb-c 허'), ['USB-C 허브']);
    assert.deepEqual(terms(index, 'ssd 1'), ['외장 SSD 1TB']);
  });

  it('falls back to the Korean keyboard layout only when nothing else matches', () => {
    assert.deepEqual(terms(korean, 'rkawk'), ['감자', '감자탕']);
    assert.deepEqual(terms(korean, 'Rk'), []); // ㄲ: shifted r
    const both = new PrefixIndex([term('rkaw', 1), term('감자', 5)]);
    assert.deepEqual(terms(both, 'rkaw'), ['rkaw']);
  });

  it('falls back to the Latin layout for Hangul typed by mistake', () => {
    assert.deepEqual(terms(new PrefixIndex([term('keyboard', 1)]), 'ㅏㄷㅛ'), ['keyboard']);
  });

  it('returns at most limit entries', () => {
    const many = new PrefixIndex(Array.from({ length: 100 }, (_, i) => term(`item${i}`, i)));
    assert.equal(many.complete('item', 50).length, 50);
    assert.deepEqual(terms(many, 'item', 3), ['item99', 'item98', 'item97']);
    assert.deepEqual(terms(many, 'nothing'), []);
  });

  it('lets a product replace the bundled term it spells', () => {
    const suggestions = new Suggestions([term('웹캠', 100), term('웹사이트', 50)], { productScore: 1000 });
    suggestions.setProducts([{ id: 9, name: 'Webcam', nameKo: '웹캠' }]);
    assert.deepEqual(suggestions.complete('웹', 10), [
      { term: '웹캠', score: 1000, source: 'product', productId: 9 },
      { term: '웹사이트', score: 50, source: 'term' },
    ]);
  });
});

describe('bundled terms', () => {
  it('builds an index of at least 10,000 Korean and English terms that answers', () => {
    const suggestions = new Suggestions(loadTerms());
    assert.ok(suggestions.index.termCount >= 10_000, `${suggestions.index.termCount} terms`);
    assert.ok(suggestions.complete('감ㅈ', 50).some((e) => e.term === '감자'));
    assert.ok(suggestions.complete('ㄱㅈ', 50).length > 0);
    assert.deepEqual(suggestions.complete('rkawk', 1).map((e) => e.term), ['감자']);
    assert.equal(suggestions.complete('hel', 1)[0].term, 'help'); // SUBTLEXus counts help above hello
  });
});

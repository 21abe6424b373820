import { PrefixIndex } from './prefix-index.js';

/** A product counts as this many uses, so the shop's own products come before words of the language. */
export const DEFAULT_PRODUCT_SCORE = 10_000_000;

/**
 * What the service answers from: the bundled terms at once, the terms and Catalog's products (both names)
 * once they have arrived. Each product refresh builds a new index and swaps it in whole.
 */
export class Suggestions {
  constructor(terms, { productScore = DEFAULT_PRODUCT_SCORE } = {}) {
    this.terms = terms;
    this.productScore = productScore;
    this.index = new PrefixIndex(terms);
    this.productsLoaded = false;
  }

  /** @param {{ id: number, name?: string, nameKo?: string }[]} products */
  setProducts(products) {
    const entries = [];
    for (const product of products) {
      for (const name of [product.name, product.nameKo]) {
        if (typeof name === 'string' && name.trim().length > 0) {
          entries.push({ term: name, score: this.productScore, source: 'product', productId: product.id });
        }
      }
    }
    this.index = new PrefixIndex([...entries, ...this.terms]);
    this.productsLoaded = true;
  }

  complete(query, limit) {
    return this.index.complete(query, limit);
  }
}

import { describe, expect, it } from 'vitest';
import { Lru } from '../src/lru.js';

const keys = (lru: Lru<string, number>): string[] => [...lru].map(([k]) => k);

describe('Lru', () => {
  it('over its cap drops the least recently used first, and says how many it dropped', () => {
    const lru = new Lru<string, number>(2);
    expect(lru.set('a', 1)).toBe(0);
    expect(lru.set('b', 2)).toBe(0);
    expect(lru.get('a')).toBe(1); // a is now the most recent: b goes first
    expect(lru.set('c', 3)).toBe(1);
    expect(keys(lru)).toEqual(['a', 'c']);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.size).toBe(2);
  });

  it('peek reads without touching; set of a held key replaces it as the most recent, dropping nothing', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.peek('a')).toBe(1);
    expect(lru.set('a', 10)).toBe(0);
    expect(keys(lru)).toEqual(['b', 'a']);
    expect(lru.set('c', 3)).toBe(1);
    expect([...lru]).toEqual([
      ['a', 10],
      ['c', 3],
    ]);
  });

  it('dropStale looks at no more than `looks` of the oldest entries', () => {
    const lru = new Lru<string, number>(10);
    for (const [k, v] of [['a', 1], ['b', 9], ['c', 1], ['d', 1]] as const) lru.set(k, v);
    const seen: string[] = [];
    lru.dropStale(2, (v, k) => (seen.push(k), v < 5));
    expect(seen).toEqual(['a', 'b']);
    expect(keys(lru)).toEqual(['b', 'c', 'd']);
  });

  it('holds at least one entry; delete and clear forget', () => {
    const lru = new Lru<string, number>(0);
    expect(lru.maxEntries).toBe(1);
    lru.set('a', 1);
    expect(lru.set('b', 2)).toBe(1);
    expect(lru.delete('b')).toBe(true);
    expect(lru.delete('b')).toBe(false);
    lru.set('c', 3);
    lru.clear();
    expect(lru.size).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { PendingGreetings } from '../../src/calls/greetings.js';

describe('PendingGreetings', () => {
  it('hands a greeting to its call once', () => {
    const g = new PendingGreetings();
    g.set('CA1', 'Hello one', 0);
    g.set('CA2', 'Hello two', 0);
    expect(g.take('CA2', 10)).toBe('Hello two');
    expect(g.take('CA2', 10)).toBeUndefined();
    expect(g.take('CA1', 10)).toBe('Hello one');
    expect(g.size).toBe(0);
  });

  it('forgets greetings after the TTL', () => {
    const g = new PendingGreetings({ ttlMs: 1000 });
    g.set('CA1', 'a', 0);
    g.set('CA2', 'b', 500);
    expect(g.take('CA1', 999)).toBe('a');
    g.set('CA3', 'c', 999);
    expect(g.take('CA2', 1500)).toBeUndefined(); // expired at 1500
    expect(g.size).toBe(1);
    expect(g.take('CA3', 1998)).toBe('c');
  });

  it('keeps at most `limit`, dropping the oldest', () => {
    const g = new PendingGreetings({ limit: 3 });
    for (let i = 0; i < 3; i++) expect(g.set(`CA${i}`, `g${i}`, i)).toBe(0);
    expect(g.set('CA3', 'g3', 3)).toBe(1);
    expect(g.size).toBe(3);
    expect(g.take('CA0', 4)).toBeUndefined();
    expect(g.take('CA3', 4)).toBe('g3');
    // Setting a CallSid again replaces its greeting without growing the map.
    g.set('CA1', 'again', 5);
    expect(g.size).toBe(2);
    expect(g.take('CA1', 5)).toBe('again');
  });
});

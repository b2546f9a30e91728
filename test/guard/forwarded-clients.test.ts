import { describe, expect, it } from 'vitest';
import { ForwardedClients, MAX_FORWARDED_CHARS } from '../../src/guard/forwarded-clients.js';

describe('ForwardedClients', () => {
  it('answers only for a peer and X-Forwarded-For pair it was told about', () => {
    const clients = new ForwardedClients();
    expect(clients.lookup('10.0.0.1', '203.0.113.5')).toBeUndefined();
    clients.learn('10.0.0.1', '203.0.113.5', '203.0.113.5');
    clients.learn('10.0.0.1', undefined, '10.0.0.1');
    expect(clients.lookup('10.0.0.1', '203.0.113.5')).toBe('203.0.113.5');
    expect(clients.lookup('10.0.0.1', undefined)).toBe('10.0.0.1');
    expect(clients.lookup('10.0.0.1', '203.0.113.5, 10.0.0.9')).toBeUndefined();
    expect(clients.lookup('10.0.0.2', '203.0.113.5')).toBeUndefined();
    expect(clients.lookup(undefined, '203.0.113.5')).toBeUndefined();
  });

  it('keeps nothing for repeated or over-long headers', () => {
    const clients = new ForwardedClients();
    const long = `${'1.2.3.4, '.repeat(40)}5.6.7.8`;
    expect(long.length).toBeGreaterThan(MAX_FORWARDED_CHARS);
    clients.learn('10.0.0.1', long, '5.6.7.8');
    clients.learn('10.0.0.1', ['1.2.3.4', '5.6.7.8'], '5.6.7.8');
    expect(clients.size).toBe(0);
    expect(clients.lookup('10.0.0.1', long)).toBeUndefined();
  });

  it('is bounded: the least recently used pair goes first', () => {
    const clients = new ForwardedClients(2);
    clients.learn('p', 'a', 'A');
    clients.learn('p', 'b', 'B');
    expect(clients.lookup('p', 'a')).toBe('A'); // 'a' is now the most recent
    clients.learn('p', 'c', 'C');
    expect(clients.size).toBe(2);
    expect([clients.lookup('p', 'a'), clients.lookup('p', 'b'), clients.lookup('p', 'c')]).toEqual(['A', undefined, 'C']);
  });
});

/**
 * The fast lane's pieces on their own: the screen in front of a server's 'upgrade' listeners,
 * and the prebuilt refusal bytes.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { laneToken, screenUpgrades } from '../../src/guard/fast-refusal.js';
import { rawRefusal } from '../../src/guard/refuse.js';

describe('screenUpgrades', () => {
  it('asks the screen first; what it does not answer reaches the original listeners unchanged', () => {
    const server = createServer();
    const reached: unknown[][] = [];
    const original = function (this: unknown, ...args: unknown[]): void {
      reached.push([this, ...args]);
    };
    server.on('upgrade', original);
    const screened: string[] = [];
    const undo = screenUpgrades(server, (req) => {
      screened.push(req.url ?? '');
      return req.url === '/answered';
    });
    const socket = new EventEmitter();
    const head = Buffer.alloc(0);
    server.emit('upgrade', { url: '/answered' } as IncomingMessage, socket, head);
    const passed = { url: '/passed' } as IncomingMessage;
    server.emit('upgrade', passed, socket, head);
    expect(screened).toEqual(['/answered', '/passed']);
    expect(reached).toEqual([[server, passed, socket, head]]);

    undo();
    undo(); // idempotent
    expect(server.listeners('upgrade')).toEqual([original]);
    server.emit('upgrade', { url: '/answered' } as IncomingMessage, socket, head);
    expect(screened).toHaveLength(2);
    expect(reached).toHaveLength(2);
  });

  it('passes a request on when the screen throws, and reports the error', () => {
    const server = createServer();
    const reached: string[] = [];
    server.on('upgrade', (req: IncomingMessage) => reached.push(req.url ?? ''));
    const errors: unknown[] = [];
    const undo = screenUpgrades(
      server,
      () => {
        throw new Error('bug');
      },
      { onError: (err) => errors.push(err) },
    );
    server.emit('upgrade', { url: '/x' } as IncomingMessage, new EventEmitter(), Buffer.alloc(0));
    expect(reached).toEqual(['/x']);
    expect(errors).toHaveLength(1);
    undo();
  });

  it('installs nothing on a server without upgrade listeners (Node then treats upgrades as requests)', () => {
    const server = createServer();
    const undo = screenUpgrades(server, () => true);
    expect(server.listenerCount('upgrade')).toBe(0);
    undo();
    expect(server.listenerCount('upgrade')).toBe(0);
  });
});

describe('laneToken', () => {
  const req = (method: string, url: string) => ({ method, url }) as IncomingMessage;
  it('takes GETs to the stream route whose token the router reads as is, query ignored', () => {
    expect(laneToken(req('GET', '/twilio/stream/abc-_.~9'), '/twilio/stream', 100)).toBe('abc-_.~9');
    expect(laneToken(req('GET', '/twilio/stream/abc?x=%zz/y'), '/twilio/stream', 100)).toBe('abc');
    expect(laneToken(req('GET', '/twilio/stream/'), '/twilio/stream', 100)).toBe('');
    expect(laneToken(req('GET', `/twilio/stream/${'a'.repeat(100)}`), '/twilio/stream', 100)).toBe('a'.repeat(100));
  });

  it('leaves to Fastify what it might route or decode otherwise', () => {
    for (const [method, url] of [
      ['POST', '/twilio/stream/abc'],
      ['HEAD', '/twilio/stream/abc'],
      ['GET', '/twilio/stream'], // no route: a 404 under 'unmatched'
      ['GET', '/twilio/stream/a/b'],
      ['GET', '/twilio/stream/a%2Fb'],
      ['GET', '/twilio/stream/a;b'],
      ['GET', '/twilio/streamx/abc'],
      ['GET', `/twilio/stream/${'a'.repeat(101)}`],
    ] as const) {
      expect(laneToken(req(method, url), '/twilio/stream', 100), `${method} ${url}`).toBeUndefined();
    }
  });
});

describe('rawRefusal', () => {
  it('is one HTTP/1.1 response: status line, close, no-store, JSON type and exact length, Retry-After in whole seconds', () => {
    const text = rawRefusal({ status: 403, reason: 'banned', retryAfterMs: 299_001 });
    const [head, body] = text.split('\r\n\r\n');
    expect(body).toBe('{"error":"Forbidden","reason":"banned"}');
    expect(head?.split('\r\n')).toEqual([
      'HTTP/1.1 403 Forbidden',
      'connection: close',
      'cache-control: no-store',
      'content-type: application/json; charset=utf-8',
      `content-length: ${body?.length}`,
      'retry-after: 300',
    ]);
  });

  it('has no Retry-After where waiting does not help, and at least 1 s where it does', () => {
    expect(rawRefusal({ status: 401, reason: 'missing_token' })).not.toMatch(/retry-after/i);
    expect(rawRefusal({ status: 429, reason: 'rate_limited', retryAfterMs: 3 })).toMatch(/\r\nretry-after: 1\r\n/);
    expect(rawRefusal({ status: 503, reason: 'draining' })).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
  });
});

/**
 * The per-address cap on open HTTP connections, over real sockets: the connection over the cap
 * is closed at once, other addresses and trusted proxies are unaffected, and admitted media
 * streams leave the count (MAX_STREAMS_PER_IP bounds them instead).
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConnectionCounts } from '../../src/guard/connection-cap.js';
import { trustedPeers } from '../../src/guard/trusted-peers.js';
import { until } from '../helpers/until.js';
import { hangUp, harnessPerTest, httpCall, rejectionCounts, tokenFor, upgrade, type Harness } from './harness.js';

const harness = harnessPerTest();

interface Held {
  readonly socket: Socket;
  /** Resolves when the server closes it (or it errors). */
  readonly closed: Promise<void>;
  /** What the server wrote before closing. */
  readonly received: () => string;
}

/** A TCP connection from `from` that sends nothing; the caller destroys it. */
function hold(h: Pick<Harness, 'port'>, from: string): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: h.port, localAddress: from });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, closed, received: () => text }));
    socket.once('error', reject);
  });
}

/** Sends a request on a held connection and resolves with the status line the server answers. */
function ask(held: Held, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      const line = held.received().split('\r\n')[0];
      if (line === undefined || !held.received().includes('\r\n')) return;
      held.socket.off('data', onData);
      resolve(line);
    };
    held.socket.on('data', onData);
    held.closed.then(() => reject(new Error(`closed before answering; got ${JSON.stringify(held.received())}`)), reject);
    held.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  });
}

describe('ConnectionCounts', () => {
  it('counts per key up to the cap, and frees a place on close', () => {
    const counts = new ConnectionCounts(2);
    expect([counts.tryOpen('a'), counts.tryOpen('a'), counts.tryOpen('a'), counts.tryOpen('b')]).toEqual([true, true, false, true]);
    expect([counts.of('a'), counts.total, counts.addresses]).toEqual([2, 3, 2]);
    counts.close('a');
    expect(counts.tryOpen('a')).toBe(true);
    counts.close('b');
    counts.close('b'); // a second close of a key with nothing open changes nothing
    expect([counts.of('b'), counts.total, counts.addresses]).toEqual([0, 2, 1]);
  });
});

describe('trustedPeers', () => {
  it('matches addresses, CIDRs and keywords as proxy-addr does, IPv4-mapped included', () => {
    const trusted = trustedPeers(['10.0.0.0/8', '192.0.2.7', 'loopback', 'fc00::/7']);
    for (const a of ['10.9.8.7', '192.0.2.7', '127.5.5.5', '::1', '::ffff:127.0.0.1', '::ffff:10.1.1.1', 'fd12::1']) expect(trusted(a), a).toBe(true);
    for (const a of ['11.0.0.1', '192.0.2.8', '2001:db8::1', 'garbage', undefined]) expect(trusted(a), String(a)).toBe(false);
    expect(trustedPeers(false)('127.0.0.1')).toBe(false);
  });
});

describe('the connection cap', () => {
  it('closes the connection over the cap at once, counts it, logs once per address; other addresses are unaffected', async () => {
    const h = await harness({ maxConnectionsPerIp: 3 });
    const held = await Promise.all([1, 2, 3].map(() => hold(h, '127.0.0.90')));
    await until(async () => (await h.metrics.httpConnections.get()).values[0]?.value === 3, 5_000, 'three counted connections');
    const over = await hold(h, '127.0.0.90');
    await over.closed; // the server closes it; the test's own timeout bounds the wait
    expect(over.received()).toBe(''); // no response: a reset costs less than one
    const again = await hold(h, '127.0.0.90');
    await again.closed;
    // Another address is served meanwhile.
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.91' })).status).toBe(200);
    expect(await rejectionCounts(h.metrics)).toEqual({ connection_cap: 2 });
    const lines = h.logs.records().filter((r) => String(r.msg).startsWith('connection cap reached'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, limit: 3, suppressed: 0 });
    expect(JSON.stringify(lines)).not.toContain('127.0.0.90');
    // A closed connection frees its place.
    const first = held[0]!;
    first.socket.destroy();
    await first.closed;
    await until(async () => (await h.metrics.httpConnections.get()).values[0]?.value === 2, 5_000, 'the freed place');
    const next = await hold(h, '127.0.0.90');
    expect(await ask(next, '/probe')).toBe('HTTP/1.1 200 OK'); // accepted
    for (const c of [...held, next]) c.socket.destroy();
  });

  it('admitted media streams leave the count: an address with live streams still has its full cap for requests', async () => {
    const h = await harness({ maxConnectionsPerIp: 2 });
    const streams = [];
    for (let i = 0; i < 3; i++) {
      const { token } = tokenFor(h);
      const ok = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.92' });
      expect(ok.status).toBe(101);
      streams.push(ok.ws);
    }
    const held = await Promise.all([hold(h, '127.0.0.92'), hold(h, '127.0.0.92')]);
    const over = await hold(h, '127.0.0.92');
    await over.closed;
    expect(h.accepted).toHaveLength(3);
    expect(streams.every((ws) => ws?.readyState === ws?.OPEN)).toBe(true);
    for (const c of held) c.socket.destroy();
    for (const ws of streams) await hangUp(ws);
  });

  it('a trusted proxy is never capped: every client behind it shares its address', async () => {
    const h = await harness({ maxConnectionsPerIp: 2, env: { TRUST_PROXY: '127.0.0.93' } });
    const held = await Promise.all([1, 2, 3, 4].map(() => hold(h, '127.0.0.93')));
    const probe = await httpCall(h, 'GET', '/probe', { from: '127.0.0.93', headers: { 'x-forwarded-for': '198.51.100.3' } });
    expect(probe.status).toBe(200);
    for (const c of held) expect(await ask(c, '/probe')).toBe('HTTP/1.1 200 OK');
    expect(await rejectionCounts(h.metrics)).toEqual({});
    for (const c of held) c.socket.destroy();
  });
});

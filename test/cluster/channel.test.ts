import { describe, expect, it } from 'vitest';
import { Channel, ChannelError } from '../../src/cluster/channel.js';
import { portPair } from './port-pair.js';
import { until } from '../helpers/until.js';

describe('Channel', () => {
  it('answers requests both ways, in any order, with what the handler returned or resolved', async () => {
    const pipe = portPair();
    const primary = new Channel(pipe.primary);
    const worker = new Channel(pipe.worker);
    primary.handle('double', (n) => (n as number) * 2);
    worker.handle('later', async (s) => {
      await new Promise((r) => setTimeout(r, 5));
      return `${String(s)}!`;
    });
    const [a, b, c] = await Promise.all([worker.request('double', 2), primary.request('later', 'hi'), worker.request('double', 21)]);
    expect([a, b, c]).toEqual([4, 'hi!', 42]);
    expect(worker.pending).toBe(0);
  });

  it('turns a throwing or missing handler into a rejected request, and the process carries on', async () => {
    const pipe = portPair();
    const primary = new Channel(pipe.primary);
    const worker = new Channel(pipe.worker);
    primary.handle('boom', () => {
      throw new Error('bad input');
    });
    await expect(worker.request('boom', null)).rejects.toThrow('bad input');
    await expect(worker.request('nobody', null)).rejects.toThrow('no handler for "nobody"');
    primary.handle('ok', () => 1);
    expect(await worker.request('ok', null)).toBe(1);
  });

  it('delivers notes one way, and ignores messages that are not ours', async () => {
    const pipe = portPair();
    const primary = new Channel(pipe.primary);
    const worker = new Channel(pipe.worker);
    const got: unknown[] = [];
    primary.onNote('tick', (body) => got.push(body));
    expect(worker.note('tick', 1)).toBe(true);
    // What other users of the pipe send (prom-client, for one) reaches the same listener.
    pipe.worker.send({ type: 'prom-client:getMetricsReq', requestId: 1 } as never);
    pipe.worker.send({ vb: 'res', id: 'x', ok: true } as never);
    worker.note('tick', 2);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([1, 2]);
  });

  it('a note listener that throws is reported to onNoteError, and later notes still arrive', async () => {
    const pipe = portPair();
    const errors: string[] = [];
    const primary = new Channel(pipe.primary, { onNoteError: (err, kind) => errors.push(`${kind}: ${(err as Error).message}`) });
    const worker = new Channel(pipe.worker);
    const got: unknown[] = [];
    primary.onNote('n', (body) => {
      if (body === 'bad') throw new Error('cannot');
      got.push(body);
    });
    worker.note('n', 'bad');
    worker.note('n', 'good');
    await until(() => got.length === 1, 1_000, 'the good note');
    expect(errors).toEqual(['n: cannot']);
  });

  it('fails every waiting request at once when the peer goes, and later ones without sending', async () => {
    const pipe = portPair();
    new Channel(pipe.primary);
    const worker = new Channel(pipe.worker);
    let closed = 0;
    worker.onClose(() => closed++);
    pipe.deaf = true;
    const waiting = [worker.request('x', 1), worker.request('x', 2)];
    expect(worker.pending).toBe(2);
    pipe.disconnect();
    for (const w of waiting) await expect(w).rejects.toBeInstanceOf(ChannelError);
    expect(worker.pending).toBe(0);
    expect(closed).toBe(1);
    const sent = pipe.sent.length;
    await expect(worker.request('x', 3)).rejects.toThrow('the other process is gone');
    expect(worker.note('y', 1)).toBe(false);
    expect(pipe.sent.length).toBe(sent);
  });

  it('bounds what waits: over maxPending a request fails at once; stale ones are dropped when the next is sent', async () => {
    const pipe = portPair();
    new Channel(pipe.primary);
    let now = 0;
    const worker = new Channel(pipe.worker, { maxPending: 3, staleMs: 1_000, now: () => now });
    pipe.deaf = true; // a primary that never answers
    const first = [worker.request('x', 1), worker.request('x', 2), worker.request('x', 3)];
    await expect(worker.request('x', 4)).rejects.toThrow('3 requests already wait for an answer');
    expect(worker.pending).toBe(3);
    now = 1_000; // the three are stale now: the next request sweeps them
    const fourth = worker.request('x', 5);
    for (const w of first) await expect(w).rejects.toThrow('no answer within 1000 ms');
    expect(worker.pending).toBe(1);
    pipe.disconnect();
    await expect(fourth).rejects.toBeInstanceOf(ChannelError);
  });

  it('an answer that arrives after its request was given up is dropped', async () => {
    const pipe = portPair();
    const primary = new Channel(pipe.primary);
    let now = 0;
    const worker = new Channel(pipe.worker, { staleMs: 10, now: () => now });
    let release!: () => void;
    primary.handle('slow', () => new Promise<number>((r) => (release = () => r(7))));
    const slow = worker.request('slow', null);
    await new Promise((r) => setImmediate(r));
    now = 20;
    primary.handle('fast', () => 1);
    const fast = worker.request('fast', null); // sweeps the stale one
    await expect(slow).rejects.toThrow('no answer within 10 ms');
    release();
    expect(await fast).toBe(1);
    expect(worker.pending).toBe(0);
  });
});

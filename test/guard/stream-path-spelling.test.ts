/**
 * The guard judges the path the router will route: however the stream path is spelled
 * (percent-escapes, escapes in the token, a query or fragment), a request that Fastify's router
 * sends to the stream route is judged as a stream upgrade (401 and a cooldown for a bad token),
 * never let through to be upgraded. The oracle is Fastify's own router, over a real socket: an
 * app with the same router options and a plain route at the stream path that names itself.
 */
import { connect, type AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamTokenFor } from '../../src/guard/credentials.js';
import { MAX_TOKEN_LENGTH } from '../../src/twilio/stream-token.js';
import { harnessPerTest, rawUpgrade, rejectionCounts, type Harness } from './harness.js';

const harness = harnessPerTest();

let oracle: FastifyInstance;
let oraclePort = 0;
beforeAll(async () => {
  // The router options buildApp and the harness use.
  oracle = Fastify({ routerOptions: { maxParamLength: MAX_TOKEN_LENGTH + 16 } });
  oracle.get('/twilio/stream/:token', async (request) => ({ route: 'stream', token: (request.params as { token: string }).token }));
  await oracle.listen({ host: '127.0.0.1', port: 0 });
  oraclePort = (oracle.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await oracle.close();
});

/** Where the oracle's router sends `GET <target>`: the token when it is the stream route, else undefined. */
function routedToken(target: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: oraclePort });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
    socket.once('error', reject);
    socket.once('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      if (!head.startsWith('HTTP/1.1 200')) return resolve(undefined);
      const parsed = JSON.parse(body) as { route: string; token: string };
      resolve(parsed.route === 'stream' ? parsed.token : undefined);
    });
    socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

const hex = (c: string): string => c.charCodeAt(0).toString(16).padStart(2, '0');

/** One character, as itself or percent-encoded in upper or lower case. */
const spelled = (c: string): fc.Arbitrary<string> => fc.constantFrom(c, `%${hex(c).toUpperCase()}`, `%${hex(c)}`);
/** A literal with each character spelled independently. */
const spell = (literal: string): fc.Arbitrary<string> => fc.tuple(...[...literal].map(spelled)).map((parts) => parts.join(''));

const tokenChar = fc.oneof(
  fc.constantFrom(...'ABCXYZabcxyz0189-_.~'.split('')),
  fc.constantFrom('%2F', '%2f', '%25', '%3F', '%23', '%41', '%7E', ';', ':', '@', '!', '$', '&', '+', ',', '=', '%'),
);
const spelling = fc
  .record({
    twilio: spell('twilio'),
    stream: spell('stream'),
    token: fc.array(tokenChar, { maxLength: 24 }).map((cs) => cs.join('')),
    tail: fc.constantFrom('', '?x=1', '?', '#frag', '/', '/more', '?a=%zz'),
  })
  .map(({ twilio, stream, token, tail }) => `/${twilio}/${stream}/${token}${tail}`);

let addressNo = 0;
/** A fresh source address per attempt, so each is judged as a first offence. */
const freshAddress = (): string => {
  addressNo += 1;
  return `127.4.${(addressNo >> 8) & 255}.${(addressNo & 255) || 1}`;
};

describe('the stream path, however it is spelled', () => {
  it('/twilio/%73tream/<junk> is judged as a stream upgrade: 401, then a cooldown, and never upgraded', async () => {
    const h = await harness();
    const first = await rawUpgrade(h, '/twilio/%73tream/junk', { from: '127.0.0.96' });
    expect([first.status, JSON.parse(first.body)]).toEqual([401, { error: 'Unauthorized', reason: 'bad_token' }]);
    const again = await rawUpgrade(h, '/%74wilio/stream/%6Aunk?x=1', { from: '127.0.0.96' });
    expect([again.status, JSON.parse(again.body).reason]).toEqual([403, 'cooldown']);
    expect(h.accepted).toHaveLength(0);
    expect(await rejectionCounts(h.metrics)).toEqual({ bad_token: 1, cooldown: 1 });
  });

  it('property: whatever the router sends to the stream route, the guard judges as one (never a 101)', async () => {
    // Fastify answers a malformed escape (`/%zz`) 400 from its router, without hooks; the upgrade
    // screen's idle deadline closes such sockets (fast-refusal.ts): short here, so they close soon.
    const h: Harness = await harness({ upgradeSettleMs: 100 });
    let routed = 0;
    await fc.assert(
      fc.asyncProperty(spelling, async (target) => {
        const token = await routedToken(target);
        const answer = await rawUpgrade(h, target, { from: freshAddress() });
        expect(answer.status, target).not.toBe(101);
        if (token === undefined) return;
        routed += 1;
        // Judged by the guard as an anonymous stream attempt from a fresh address.
        expect(answer.status, target).toBe(401);
        expect(['bad_token', 'missing_token']).toContain((JSON.parse(answer.body) as { reason: string }).reason);
      }),
      { numRuns: 150 },
    );
    expect(h.accepted).toHaveLength(0);
    // The generator does reach the route through escapes, not only through the plain spelling.
    expect(routed).toBeGreaterThan(20);
  });
});

describe('streamTokenFor', () => {
  it("takes the router's token when it routed to the stream route, else the raw segment under the stream path", () => {
    const S = '/twilio/stream';
    expect(streamTokenFor(`${S}/:token`, { token: 'a/b' }, '/twilio/%73tream/a%2Fb', S)).toBe('a/b');
    expect(streamTokenFor(`${S}/:token`, {}, '/twilio/%73tream/', S)).toBe('');
    expect(streamTokenFor(undefined, {}, '/twilio/stream/a/b', S)).toBe('a/b');
    expect(streamTokenFor(undefined, {}, '/twilio/stream', S)).toBe('');
    expect(streamTokenFor('/healthz', {}, '/healthz', S)).toBeUndefined();
  });
});

import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { hangUp, httpCall, rejectionCounts, harnessPerTest, T0, tokenFor, upgrade, upgradeSignature } from './harness.js';

const harness = harnessPerTest();

describe('stream upgrades: anonymous', () => {
  it('no token → 401 missing_token, and the route never sees a socket', async () => {
    const h = await harness();
    const r = await upgrade(h, '/twilio/stream/', { from: '127.0.0.2' });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'Unauthorized', reason: 'missing_token' });
    expect(r.headers['retry-after']).toBeUndefined();
    expect(h.accepted).toHaveLength(0);
    expect(await rejectionCounts(h.metrics)).toEqual({ missing_token: 1 });
  });

  it('a bad token → 401, then 403 with Retry-After for that IP only', async () => {
    const h = await harness();
    const first = await upgrade(h, '/twilio/stream/not-a-token', { from: '127.0.0.3' });
    expect(first.status).toBe(401);
    expect(first.body).toMatchObject({ reason: 'bad_token' });
    h.clock += 10_000;
    const second = await upgrade(h, '/twilio/stream/not-a-token', { from: '127.0.0.3' });
    expect(second.status).toBe(403);
    expect(second.body).toEqual({ error: 'Forbidden', reason: 'cooldown' });
    expect(second.headers['retry-after']).toBe('20');
    // Another address is not affected.
    expect((await upgrade(h, '/twilio/stream/not-a-token', { from: '127.0.0.4' })).status).toBe(401);
    expect(h.accepted).toHaveLength(0);
  });

  it('an expired token is 401 expired_token', async () => {
    const h = await harness();
    const { token } = tokenFor(h, 60);
    h.clock += 60_000;
    const r = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.5' });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ reason: 'expired_token' });
  });

  it('25 anonymous attempts in a burst are all refused; after the first the refusals are cheap 403s', async () => {
    const h = await harness();
    const statuses: number[] = [];
    const results = await Promise.all(Array.from({ length: 25 }, () => upgrade(h, '/twilio/stream/junk', { from: '127.0.0.6' })));
    for (const r of results) statuses.push(r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(1);
    expect(statuses.filter((s) => s === 403)).toHaveLength(24);
    expect(h.accepted).toHaveLength(0);
    const counts = await rejectionCounts(h.metrics);
    // The user-agent (ws's default: none) and IP pair spent its 20-attempt budget: labelled.
    expect(counts).toEqual({ bad_token: 1, cooldown: 19, automated_tool: 5 });
  });

  it('while draining, anonymous attempts get 503 and no cooldown', async () => {
    const h = await harness();
    h.registry.startDrain();
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.7' })).status).toBe(503);
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.7' })).body).toMatchObject({ reason: 'draining' });
  });
});

describe('stream upgrades: valid credentials', () => {
  it('a valid token from a penalised IP is let through (101), and the route gets the call', async () => {
    const h = await harness();
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.8' })).status).toBe(401);
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.8' })).status).toBe(403);
    const { token, callSid } = tokenFor(h);
    const r = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.8' });
    expect(r.status).toBe(101);
    expect(h.accepted).toHaveLength(1);
    expect(h.accepted[0]).toMatchObject({ callSid, token, expiresAt: Math.floor(T0 / 1000) + 300 });
    expect(h.registry.live).toBe(1);
    await hangUp(r.ws);
    await expect.poll(() => h.registry.live).toBe(0);
  });

  it('a used token → 409 token_reused', async () => {
    const h = await harness();
    const { token } = tokenFor(h);
    const first = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.9' });
    expect(first.status).toBe(101);
    await hangUp(first.ws);
    const again = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.9' });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: 'Conflict', reason: 'token_reused' });
    // Nor can it be re-spelt: base64url ignores a trailing partial character.
    const respelt = await upgrade(h, `/twilio/stream/${token}x`, { from: '127.0.0.9' });
    expect([respelt.status, respelt.body?.reason]).toEqual([401, 'bad_token']);
    // The IP is now under a cooldown, which never stops a valid new call.
    expect((await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.9' })).status).toBe(101);
  });

  it('30 valid calls from one IP within a minute all succeed', async () => {
    const h = await harness();
    const open: Awaited<ReturnType<typeof upgrade>>[] = [];
    for (let i = 0; i < 30; i++) {
      h.clock += 2_000;
      open.push(await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.10' }));
    }
    expect(open.map((r) => r.status)).toEqual(Array(30).fill(101));
    expect(h.registry.streamsFrom('127.0.0.10')).toBe(30);
    await Promise.all(open.map((r) => hangUp(r.ws)));
    await expect.poll(() => h.registry.live).toBe(0);
  });

  it('MAX_CALLS reached → 503 capacity; a freed slot is usable again', async () => {
    const h = await harness({ env: { MAX_CALLS: '2' } });
    const a = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.11' });
    const b = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.12' });
    expect([a.status, b.status]).toEqual([101, 101]);
    const c = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.13' });
    expect(c.status).toBe(503);
    expect(c.body).toMatchObject({ reason: 'capacity' });
    await hangUp(a.ws);
    await expect.poll(() => h.registry.live).toBe(1);
    const d = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.13' });
    expect(d.status).toBe(101);
    await Promise.all([hangUp(b.ws), hangUp(d.ws)]);
  });

  it('MAX_STREAMS_PER_IP reached → 429 ip_cap for that IP only', async () => {
    const h = await harness({ env: { MAX_STREAMS_PER_IP: '1' } });
    const a = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.14' });
    const b = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.14' });
    const c = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.15' });
    expect([a.status, b.status, c.status]).toEqual([101, 429, 101]);
    expect(b.body).toMatchObject({ reason: 'ip_cap' });
    await Promise.all([hangUp(a.ws), hangUp(c.ws)]);
  });

  it('streams whose TwiML was served are still accepted while draining', async () => {
    const h = await harness();
    h.registry.startDrain();
    const r = await upgrade(h, `/twilio/stream/${tokenFor(h).token}`, { from: '127.0.0.16' });
    expect(r.status).toBe(101);
    await hangUp(r.ws);
  });

  it('checks the upgrade signature when one is sent: valid → 101, forged → 401 bad_signature', async () => {
    const h = await harness();
    const good = tokenFor(h).token;
    const signed = { 'x-twilio-signature': upgradeSignature(h.config, good) };
    const ok = await upgrade(h, `/twilio/stream/${good}`, { from: '127.0.0.17', headers: signed });
    expect(ok.status).toBe(101);
    await hangUp(ok.ws);
    const other = tokenFor(h).token;
    // The signature of another token's URL.
    const forged = await upgrade(h, `/twilio/stream/${other}`, { from: '127.0.0.18', headers: signed });
    expect(forged.status).toBe(401);
    expect(forged.body).toMatchObject({ reason: 'bad_signature' });
  });
});

describe('refusals close the connection', () => {
  it('destroys the socket of a refused upgrade after the response, without waiting for the client', async () => {
    const h = await harness();
    const socket = connect({ host: '127.0.0.1', port: h.port, localAddress: '127.0.0.19' });
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      'GET /twilio/stream/junk HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await closed; // the server hung up: the test would time out otherwise
    expect(received).toMatch(/^HTTP\/1\.1 401 /);
    expect(received).toMatch(/"reason":"bad_token"/);
    expect(h.accepted).toHaveLength(0);
  });
});

describe('every route', () => {
  it('more than 20 unsigned requests in 5 s → 403 flood, then banned (Retry-After 300) on every route', async () => {
    const h = await harness();
    for (let i = 0; i < 20; i++) expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.20' })).status).toBe(200);
    const flood = await httpCall(h, 'GET', '/probe', { from: '127.0.0.20' });
    expect(flood.status).toBe(403);
    expect(flood.body).toEqual({ error: 'Forbidden', reason: 'flood' });
    expect(flood.headers['retry-after']).toBe('300');
    expect(flood.headers.connection).toBe('close');
    h.clock += 1_000;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const banned = await httpCall(h, 'POST', '/twilio/voice', { from: '127.0.0.20', body: 'a=b', headers: form });
    expect(banned.status).toBe(403);
    expect(banned.body).toEqual({ error: 'Forbidden', reason: 'banned' });
    expect(banned.headers['retry-after']).toBe('299');
  });

  it('signed webhooks are exempt from the flood rule and from the IP ban', async () => {
    const h = await harness();
    const form = 'CallSid=CA1&From=%2B15550001111';
    const params = { CallSid: 'CA1', From: '+15550001111' };
    const { default: twilio } = await import('twilio');
    const signature = twilio.getExpectedTwilioSignature(h.config.twilioAuthToken!, `${h.config.publicUrl}/twilio/voice`, params);
    const post = () =>
      httpCall(h, 'POST', '/twilio/voice', {
        from: '127.0.0.21',
        body: form,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      });
    for (let i = 0; i < 30; i++) expect((await post()).status).toBe(200);
    // A forged signature is refused by the route, which reports it: the IP gets a cooldown…
    const forged = await httpCall(h, 'POST', '/twilio/voice', {
      from: '127.0.0.21',
      body: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'AAAA' },
    });
    expect(forged.status).toBe(403);
    await expect.poll(async () => (await httpCall(h, 'GET', '/probe', { from: '127.0.0.21' })).status).toBe(403);
    // …which never stops a correctly signed webhook from the same (shared) IP.
    expect((await post()).status).toBe(200);
    expect(await rejectionCounts(h.metrics)).toMatchObject({ bad_signature: 1, cooldown: 1 });
  });

  it('the signature header buys nothing outside the webhooks', async () => {
    const h = await harness();
    const headers = { 'content-type': 'application/json', 'x-twilio-signature': 'AAAA' };
    const post = () => httpCall(h, 'POST', '/calls', { from: '127.0.0.22', body: '{}', headers });
    for (let i = 0; i < 20; i++) expect((await post()).status).toBe(404); // no such route here; the guard let it by
    expect((await post()).status).toBe(403);
  });
});

describe('client IP', () => {
  it('ignores X-Forwarded-For without TRUST_PROXY: the socket address is judged', async () => {
    const h = await harness();
    const spoof = { 'x-forwarded-for': '203.0.113.5' };
    expect((await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.30', headers: spoof })).status).toBe(401);
    // Banned: the socket's address, whatever the header claims.
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.30' })).status).toBe(403);
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.31', headers: spoof })).status).toBe(200);
  });

  it('with TRUST_PROXY, judges the right-most untrusted X-Forwarded-For hop', async () => {
    const h = await harness({ env: { TRUST_PROXY: '127.0.0.32,10.0.0.0/8' } });
    // Through the trusted proxy; 10.1.1.1 is a trusted internal hop; 198.51.100.1 was written by the client.
    const via = (xff: string) => ({ from: '127.0.0.32', headers: { 'x-forwarded-for': xff } });
    expect((await upgrade(h, '/twilio/stream/junk', via('198.51.100.1, 203.0.113.5, 10.1.1.1'))).status).toBe(401);
    expect((await httpCall(h, 'GET', '/probe', via('203.0.113.5'))).status).toBe(403);
    expect((await httpCall(h, 'GET', '/probe', via('198.51.100.1'))).status).toBe(200);
    // The proxy itself is not the client and was not banned.
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.32' })).status).toBe(200);
    // An untrusted peer cannot claim to be someone else.
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.33', headers: { 'x-forwarded-for': '203.0.113.5' } })).status).toBe(200);
  });
});

describe('client IP: forwarded values that are not IPs', () => {
  it('are never a guard key: the trusted proxy that forwarded them is judged, so rotating them buys nothing', async () => {
    const h = await harness({ env: { TRUST_PROXY: '127.0.0.34' } });
    const via = (xff: string) => ({ from: '127.0.0.34', headers: { 'x-forwarded-for': xff } });
    expect((await upgrade(h, '/twilio/stream/junk', via('garbage-1'))).status).toBe(401);
    // Another made-up value is the same key: still in the cooldown the first one earned.
    const again = await upgrade(h, '/twilio/stream/junk', via('not-an-ip-2'));
    expect([again.status, again.body?.reason]).toEqual([403, 'cooldown']);
    expect((await httpCall(h, 'GET', '/probe', via('unknown'))).status).toBe(403);
    // Real client addresses behind the same proxy are their own keys, unaffected.
    expect((await httpCall(h, 'GET', '/probe', via('198.51.100.8'))).status).toBe(200);
    const cooldown = h.logs.records().find((r) => r.msg === 'guard cooldown');
    expect(cooldown?.ip).toBe('127.0.0.34');
  });
});

describe('logs', () => {
  it('never carry the token or the secret; IPs only at debug, hashed at info', async () => {
    const h = await harness();
    const { token } = tokenFor(h);
    const ok = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.40' });
    await hangUp(ok.ws);
    await upgrade(h, `/twilio/stream/${token}x`, { from: '127.0.0.41' });
    // Escalate 127.0.0.41 to a logged (info) ban.
    h.clock += 30_000;
    await upgrade(h, '/twilio/stream/junk', { from: '127.0.0.41' });
    const text = h.logs.text();
    expect(text).not.toContain(token);
    expect(text).not.toContain(h.config.streamSecret);
    const records = h.logs.records();
    const info = records.filter((r) => (r.level as number) >= 30);
    expect(info.some((r) => r.msg === 'guard ban' && typeof r.ipHash === 'string' && r.strikes === 2)).toBe(true);
    expect(JSON.stringify(info)).not.toContain('127.0.0.41');
    expect(records.some((r) => r.msg === 'guard refused' && r.ip === '127.0.0.41' && r.reason === 'bad_token')).toBe(true);
  });
});

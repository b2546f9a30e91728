/**
 * Only a signature that verifies exempts a webhook from the flood rule and bans; one that fails
 * counts against its address like a bad token, and says so in the log once per address per minute.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import twilio from 'twilio';
import { answerBadSignature } from '../../src/guard/answers.js';
import { looksSigned } from '../../src/guard/signed-webhooks.js';
import { harnessPerTest, httpCall, rejectionCounts, type Harness } from './harness.js';

const harness = harnessPerTest();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** Shaped like an HMAC-SHA1 in base64, so the guard must verify it. */
const FORGED = 'A'.repeat(27) + '=';
const PARAMS = { CallSid: 'CA' + '7'.repeat(32), From: '+15550001111' };
const BODY = new URLSearchParams(PARAMS).toString();

function post(h: Harness, from: string, signature: string, path = '/twilio/voice', body = BODY) {
  return httpCall(h, 'POST', path, { from, body, headers: { ...FORM, 'x-twilio-signature': signature } });
}

function validSignature(h: Harness, path = '/twilio/voice'): string {
  return twilio.getExpectedTwilioSignature(h.config.twilioAuthToken!, h.config.publicUrl + path, PARAMS);
}

/** The rate-limited warn lines about rejected signatures. */
function signatureLines(h: Harness): Record<string, unknown>[] {
  return h.logs.records().filter((r) => String(r.msg).startsWith('webhook signature rejected'));
}

async function banByFlood(h: Harness, from: string): Promise<void> {
  for (let i = 0; i < 20; i++) expect((await httpCall(h, 'GET', '/probe', { from })).status).toBe(200);
  expect((await httpCall(h, 'GET', '/probe', { from })).body).toMatchObject({ reason: 'flood' });
}

describe('signed webhooks and the guard', () => {
  it('a banned address still gets its validly signed webhook answered; its forged ones are refused as banned, before the route', async () => {
    const h = await harness();
    await banByFlood(h, '127.0.0.80');
    const valid = await post(h, '127.0.0.80', validSignature(h));
    expect(valid.status).toBe(200);
    expect(valid.body).toContain('<Stream url="wss://voice.example.com/twilio/stream/'); // the call's TwiML
    for (let i = 0; i < 5; i++) {
      const forged = await post(h, '127.0.0.80', FORGED);
      expect([forged.status, (forged.body as Record<string, unknown>).reason]).toEqual([403, 'banned']);
      expect(forged.headers.connection).toBe('close');
    }
    // The route reports the signatures it rejects as bad_signature: it never saw these.
    const counts = await rejectionCounts(h.metrics);
    expect(counts).toMatchObject({ flood: 1, banned: 5 });
    expect(counts.bad_signature).toBeUndefined();
  });

  it('a forged signature counts like a bad token: 403 bad_signature and a cooldown; the valid one from that address still passes', async () => {
    const h = await harness();
    const forged = await post(h, '127.0.0.81', FORGED);
    expect([forged.status, forged.body]).toEqual([403, { error: 'Forbidden', reason: 'bad_signature' }]);
    const probe = await httpCall(h, 'GET', '/probe', { from: '127.0.0.81' });
    expect([probe.status, (probe.body as Record<string, unknown>).reason]).toEqual([403, 'cooldown']);
    expect((await post(h, '127.0.0.81', validSignature(h))).status).toBe(200);
    expect(await rejectionCounts(h.metrics)).toEqual({ bad_signature: 1, cooldown: 1 });
  });

  it('POST /twilio/<anything> with a forged signature is counted too', async () => {
    const h = await harness();
    const forged = await post(h, '127.0.0.82', FORGED, '/twilio/nowhere');
    expect([forged.status, (forged.body as Record<string, unknown>).reason]).toEqual([403, 'bad_signature']);
    expect((await httpCall(h, 'GET', '/probe', { from: '127.0.0.82' })).status).toBe(403);
  });

  it('a signed-looking request answered before its body is read (413) counts as a failed signature', async () => {
    const h = await harness();
    // Announces more than the app's 64 KiB body limit and sends none of it: answered at once.
    const answer = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: h.port, localAddress: '127.0.0.83' });
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(text));
      socket.write(
        `POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
          `X-Twilio-Signature: ${FORGED}\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n`,
      );
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    await expect.poll(async () => (await httpCall(h, 'GET', '/probe', { from: '127.0.0.83' })).status).toBe(403);
    expect(await rejectionCounts(h.metrics)).toMatchObject({ bad_signature: 1 });
  });

  it('logs one line per address per minute, with the number of lines held back, and the address hashed', async () => {
    const h = await harness();
    for (let i = 0; i < 6; i++) expect((await post(h, '127.0.0.84', FORGED)).status).toBe(403);
    expect((await post(h, '127.0.0.85', FORGED)).status).toBe(403);
    const first = signatureLines(h);
    expect(first).toHaveLength(2);
    expect(first.map((r) => r.suppressed)).toEqual([0, 0]);
    expect(first[0]?.ipHash).not.toBe(first[1]?.ipHash);
    h.clock += 60_000;
    expect((await post(h, '127.0.0.84', FORGED)).status).toBe(403);
    const lines = signatureLines(h);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ level: 40, reason: 'bad_signature', suppressed: 5, ipHash: first[0]?.ipHash });
    expect(JSON.stringify(lines)).not.toContain('127.0.0.84');
  });

  it('without signature checks (no TWILIO_AUTH_TOKEN) the header buys nothing: the flood rule applies', async () => {
    const h = await harness({ env: { TWILIO_AUTH_TOKEN: undefined } });
    for (let i = 0; i < 20; i++) expect((await post(h, '127.0.0.86', FORGED, '/twilio/nowhere')).status).toBe(404);
    expect((await post(h, '127.0.0.86', FORGED, '/twilio/nowhere')).body).toMatchObject({ reason: 'flood' });
  });
});

describe('looksSigned', () => {
  const req = (over: Partial<{ method: string; url: string; type: string | undefined; sig: string | string[] | undefined }> = {}) => ({
    method: over.method ?? 'POST',
    url: over.url ?? '/twilio/voice',
    headers: { 'content-type': 'type' in over ? over.type : 'application/x-www-form-urlencoded; charset=utf-8', 'x-twilio-signature': 'sig' in over ? over.sig : FORGED },
  });
  it('only a signature-shaped header on a form POST under the prefix, with checks on', () => {
    expect(looksSigned(req(), 'token', '/twilio/')).toBe(true);
    expect(looksSigned(req({ type: 'Application/X-WWW-Form-Urlencoded' }), 'token', '/twilio/')).toBe(true);
    expect(looksSigned(req(), undefined, '/twilio/')).toBe(false);
    expect(looksSigned(req({ method: 'GET' }), 'token', '/twilio/')).toBe(false);
    expect(looksSigned(req({ url: '/calls' }), 'token', '/twilio/')).toBe(false);
    expect(looksSigned(req({ type: 'text/plain' }), 'token', '/twilio/')).toBe(false);
    expect(looksSigned(req({ type: undefined }), 'token', '/twilio/')).toBe(false);
    for (const sig of [undefined, '', 'AAAA', 'A'.repeat(200), 'not base64 at all!!!!!!!!!!!!!', [FORGED, FORGED]]) {
      expect(looksSigned(req({ sig }), 'token', '/twilio/'), JSON.stringify(sig)).toBe(false);
    }
  });
});

describe('answerBadSignature', () => {
  it('403 bad_signature with the cooldown it started, or the ban/budget refusal the store gave', () => {
    const ban = { fresh: true, until: 30_000, strikes: 1, label: 'cooldown' as const };
    expect(answerBadSignature({ ok: true, ban }, 'bad_signature')).toEqual({
      refusal: { status: 403, reason: 'bad_signature' },
      ban,
      cause: 'bad_signature',
    });
    expect(answerBadSignature({ ok: false, status: 429, reason: 'rate_limited', retryAfterMs: 6_000 }, 'bad_signature').refusal).toEqual({
      status: 429,
      reason: 'rate_limited',
      retryAfterMs: 6_000,
    });
  });
});

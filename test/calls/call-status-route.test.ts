import { describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerCallStatusRoute } from '../../src/calls/call-status-route.js';
import { testConfig } from '../helpers/config.js';
import { signedWebhook } from '../helpers/webhook.js';
import { closeAfterEach } from '../helpers/close-after-each.js';

const PATH = '/twilio/call-status';
const track = closeAfterEach();

function makeApp(env: Record<string, string | undefined> = {}) {
  const over: string[] = [];
  const rejected: string[] = [];
  const app = track(Fastify());
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  registerCallStatusRoute(app, {
    config: testConfig(env),
    onCallOver: (callSid) => over.push(callSid),
    onBadSignature: (_request, reason) => rejected.push(reason),
  });
  return { app, over, rejected };
}

function post(a: FastifyInstance, params: Record<string, string>, signature?: string | null) {
  const { headers, payload } = signedWebhook(PATH, params, {
    ...(signature === null ? { authToken: null } : signature === undefined ? {} : { signature }),
  });
  return a.inject({ method: 'POST', url: PATH, headers, payload });
}

describe('POST /twilio/call-status', () => {
  it('accepts signed progress, and reports only final statuses as the call being over', async () => {
    const { app: a, over, rejected } = makeApp();
    for (const status of ['initiated', 'ringing', 'in-progress']) {
      expect((await post(a, { CallSid: 'CA1', CallStatus: status })).statusCode).toBe(204);
    }
    expect(over).toEqual([]);
    for (const [sid, status] of [['CA1', 'completed'], ['CA2', 'busy'], ['CA3', 'no-answer'], ['CA4', 'failed'], ['CA5', 'canceled']]) {
      expect((await post(a, { CallSid: sid!, CallStatus: status! })).statusCode).toBe(204);
    }
    expect(over).toEqual(['CA1', 'CA2', 'CA3', 'CA4', 'CA5']);
    expect(rejected).toEqual([]);
  });

  it('refuses a missing or wrong signature with 403, tells the guard, and acts on nothing', async () => {
    const { app: a, over, rejected } = makeApp();
    const missing = await post(a, { CallSid: 'CA1', CallStatus: 'completed' }, null);
    expect(missing.statusCode).toBe(403);
    expect(missing.json()).toEqual({ error: 'Forbidden', reason: 'missing_signature' });
    const forgedParams = { CallSid: 'CA1', CallStatus: 'completed' };
    const forged = await post(a, forgedParams, signedWebhook(PATH, forgedParams, { authToken: 'another-token' }).headers['x-twilio-signature']);
    expect(forged.json()).toEqual({ error: 'Forbidden', reason: 'bad_signature' });
    expect(rejected).toEqual(['missing_signature', 'bad_signature']);
    expect(over).toEqual([]);
  });

  it('takes unsigned posts only when TWILIO_AUTH_TOKEN is unset', async () => {
    const { app: a, over } = makeApp({ TWILIO_AUTH_TOKEN: undefined });
    expect((await post(a, { CallSid: 'CA9', CallStatus: 'completed' }, null)).statusCode).toBe(204);
    expect(over).toEqual(['CA9']);
  });
});

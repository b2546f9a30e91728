/**
 * `POST /calls/browser`: a call from a browser (the console's softphone). Bearer `API_TOKEN`, as
 * POST /calls; the route does not exist (404) while API_TOKEN is unset. No body is read.
 *
 * It does for the browser what the voice webhook does for Twilio: checks that a call can be
 * served now (503 `capacity` / `draining` / `upstream_down`), mints a CallSid and a stream token for
 * it, resolves the call's profile (the default one) and pre-warms its upstream. The browser then
 * opens the stream URL and speaks the Media Streams protocol with `customParameters`
 * `{ token, direction: 'browser' }`: from there the call takes the path of a phone call (the
 * guard's token check and admission, the session, tools, records, metrics).
 *
 * 200 `{ callSid, streamUrl, token, expiresAt }`, `Cache-Control: no-store`: the token opens one
 * stream for this CallSid, once, until `expiresAt` (ms since the epoch; STREAM_TOKEN_TTL_SECONDS).
 * Browser CallSids are `BR` + 32 hex digits, so a record's CallSid says where the call came from
 * and can never be a Twilio call's (`CA…`).
 */
import { sendUnavailable } from './calls-route.js';
import { BROWSER_CALL_SID_PREFIX } from '../twilio/call-sid.js';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { CallRegistry } from '../call-registry.js';
import { requireBearer } from '../bearer-hook.js';
import { streamUrl } from '../twilio/stream-path.js';
import { mintStreamToken, tokenExpirySeconds } from '../twilio/stream-token.js';
import type { Assistant } from '../assistants/assistant.js';

export const BROWSER_CALLS_ROUTE = '/calls/browser';
/** No body is read; anything larger than this is refused before parsing, bytes. */
const BODY_LIMIT_BYTES = 1024;

export function newBrowserCallSid(): string {
  return BROWSER_CALL_SID_PREFIX + randomBytes(16).toString('hex');
}

export interface BrowserCallRouteOptions {
  readonly config: Pick<Config, 'apiToken' | 'streamSecret' | 'streamTokenTtlSeconds' | 'publicUrl' | 'instanceId'>;
  readonly registry: Pick<CallRegistry, 'canServeNewCall'>;
  /** Wall clock, ms (the token's expiry). */
  readonly now: () => number;
  /** The call's profile, resolved and kept for its stream; its upstream pre-warmed (call control). */
  readonly prepare: (callSid: string) => Assistant;
  /** Told when a wrong API token is presented (the guard's cooldown). */
  readonly onBadToken?: (request: FastifyRequest) => void;
}

export function registerBrowserCallRoute(app: FastifyInstance, opts: BrowserCallRouteOptions): void {
  const { config, registry } = opts;
  if (!config.apiToken) return;
  const authorize = requireBearer({ token: config.apiToken, onBadToken: opts.onBadToken });

  app.post(BROWSER_CALLS_ROUTE, { onRequest: authorize, bodyLimit: BODY_LIMIT_BYTES }, async (request, reply) => {
    const unavailable = registry.canServeNewCall();
    if (unavailable) return sendUnavailable(reply, unavailable, 'taking calls');
    const callSid = newBrowserCallSid();
    const now = opts.now();
    const token = mintStreamToken(config.streamSecret, callSid, now, config.streamTokenTtlSeconds);
    const expiresAt = tokenExpirySeconds(now, config.streamTokenTtlSeconds) * 1000;
    const assistant = opts.prepare(callSid);
    request.log.info({ callSid, assistant: assistant.name }, 'browser call: stream token minted');
    return reply
      .header('Cache-Control', 'no-store')
      .send({ callSid, streamUrl: streamUrl(config, token), token, expiresAt });
  });
}

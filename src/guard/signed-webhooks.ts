/**
 * Signed webhooks and the guard: only a signature that verifies exempts a request from the
 * flood rule and from its address's ban.
 *
 * Twilio's webhooks come from shared egress IPs, so a correctly signed one must be answered even
 * from an address the guard has banned. But the signature covers the form body, which is not
 * read yet when the guard's onRequest hook runs; so a request that *looks* signed is set aside
 * there and judged in preHandler, once its body is parsed (bounded by BODY_LIMIT_BYTES and the
 * request timeout): a signature that verifies passes untouched (no store call, no count); one
 * that fails counts against its address exactly like a bad stream token (budget, flood rule,
 * cooldown, escalation) and is refused before the route runs. A request set aside that never
 * reaches preHandler (a body too large or malformed, the request timeout, a client that left)
 * is counted the same way when it closes.
 *
 * "Looks signed" is cheap and strict: a POST under the webhook prefix, a form body (all Twilio
 * sends), a header shaped like a signature, and signature checks on (TWILIO_AUTH_TOKEN). Anything
 * else is judged at once like any unsigned request; its route verifies and reports as before.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { checkWebhookSignature, looksLikeSignature } from '../twilio/signature.js';
import { agentKey } from './client-ip.js';
import { answerBadSignature, type SignatureRejection } from './answers.js';
import { LogThrottle } from './log-throttle.js';
import type { GuardStore } from './store.js';
import type { Verdicts } from './verdicts.js';

export interface WebhookRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: { readonly 'content-type'?: string | undefined; readonly 'x-twilio-signature'?: string | string[] | undefined };
}

const FORM = 'application/x-www-form-urlencoded';

/** Whether the guard must verify this request's signature before judging it by its address. */
export function looksSigned(request: WebhookRequest, authToken: string | undefined, prefix: string): boolean {
  if (!authToken || request.method !== 'POST' || !request.url.startsWith(prefix)) return false;
  const type = request.headers['content-type'];
  if (typeof type !== 'string' || type.slice(0, FORM.length).toLowerCase() !== FORM) return false;
  return looksLikeSignature(request.headers['x-twilio-signature']);
}

/** The parsed form body as the signature covers it; anything else (no body) as no params. */
export function formParams(body: unknown): Readonly<Record<string, string>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return {};
  return body as Record<string, string>;
}

export interface SignedWebhookGateOptions {
  readonly authToken: string | undefined;
  readonly publicUrl: string;
  /** Where webhooks live. @default '/twilio/' */
  readonly prefix: string;
  readonly store: Pick<GuardStore, 'attempt'>;
  readonly verdicts: Verdicts;
  /** The guard key of a request (client-ip.ts). */
  readonly ipOf: (request: FastifyRequest) => string;
  readonly clock: () => number;
}

export interface SignedWebhookGate {
  /** onRequest: true when the request looks signed and is set aside (no verdict yet). */
  setAside(request: FastifyRequest): boolean;
  /** preHandler: verifies a request set aside; a failure is counted and refused here. */
  verify(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** onResponse: a request set aside but answered before preHandler counts as a failure. */
  settle(request: FastifyRequest): void;
}

export function signedWebhookGate(opts: SignedWebhookGateOptions): SignedWebhookGate {
  const { authToken, verdicts } = opts;
  /** Requests set aside: 'pending' until judged. */
  const setAside = new WeakMap<FastifyRequest, 'pending' | 'judged'>();
  /** An attacker triggers this line at will: once per address per minute (log-throttle.ts). */
  const lines = new LogThrottle();

  /**
   * A request set aside that is over (answered or closed) without reaching preHandler: a body
   * too large or malformed, the request timeout, a client that left. Its signature cannot have
   * verified, so it counts as one that failed. Idempotent.
   */
  function settle(request: FastifyRequest): void {
    if (setAside.get(request) !== 'pending') return;
    setAside.set(request, 'judged');
    reject(request, undefined, 'bad_signature').catch((err: unknown) => {
      request.log.error({ err }, 'guard: counting an unverified signature failed');
    });
  }

  /** Counts a failed signature against its address like a bad token; refuses it when there is a `reply` to send. */
  async function reject(request: FastifyRequest, reply: FastifyReply | undefined, reason: SignatureRejection): Promise<void> {
    const ip = opts.ipOf(request);
    const now = Math.floor(opts.clock());
    const verdict = await opts.store.attempt(ip, agentKey(ip, request.headers['user-agent']), now, true);
    const { refusal, ban, cause } = answerBadSignature(verdict, reason);
    verdicts.logBan(request.log, ip, now, ban, cause);
    const suppressed = lines.take(ip, now);
    if (suppressed !== undefined) {
      request.log.warn(
        { reason, route: request.routeOptions.url ?? 'unmatched', ipHash: verdicts.hashIp(ip), suppressed },
        'webhook signature rejected (check PUBLIC_URL matches the URL configured in Twilio)',
      );
    }
    if (reply !== undefined) verdicts.say({ request, reply, ip, now }, refusal);
    else verdicts.count(reason);
  }

  return {
    setAside(request) {
      if (!looksSigned(request, authToken, opts.prefix)) return false;
      setAside.set(request, 'pending');
      // A request cut off before preHandler gets no onResponse: its close settles it.
      request.raw.once('close', () => settle(request));
      return true;
    },
    async verify(request, reply) {
      if (setAside.get(request) !== 'pending' || !authToken) return;
      setAside.set(request, 'judged');
      const header = request.headers['x-twilio-signature'];
      const verdict = checkWebhookSignature(authToken, opts.publicUrl, request.url, header, formParams(request.body));
      if (verdict === 'ok') return; // Twilio: exempt from the flood rule and from its address's ban
      await reject(request, reply, verdict);
    },
    settle,
  };
}

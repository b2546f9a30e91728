/**
 * Call control, wired: outbound calls (`POST /calls`, `POST /twilio/call-status`), each call's
 * assistant profile (resolved once: at POST /calls or at the webhook, kept by CallSid until the
 * stream takes it), the profile's tools (end_call; transfer_call to its number), per-call
 * greetings and pre-warmed upstream sessions. `buildApp` hands the pieces to the webhooks and the
 * stream route.
 */
import { isBrowserCallSid } from '../twilio/call-sid.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Config } from '../config.js';
import type { WebSocket } from 'ws';
import type { CallRegistry } from '../call-registry.js';
import type { Clock } from '../clock.js';
import type { TwimlServedEvent, WebhookCall } from '../twilio/webhooks.js';
import type { OnBadSignature } from '../twilio/signature.js';
import type { UpstreamProvider } from '../stream/upstream.js';
import type { Assistant } from '../assistants/assistant.js';
import type { AssistantBook } from '../assistants/book.js';
import { callToolsFor } from '../assistants/call-tools.js';
import { createTwilioRest, restSettingsNotice, type TwilioRest } from './twilio-rest.js';
import { PendingCalls, type PendingCall } from './pending-calls.js';
import { UpstreamPool, type CallToolSet } from './upstream-pool.js';
import { registerCallsRoute } from './calls-route.js';
import { registerCallStatusRoute } from './call-status-route.js';
import { registerBrowserCallRoute } from './browser-call-route.js';
import { createToolRouter } from './tools/router.js';

export interface CallControlOptions {
  readonly config: Config;
  readonly registry: CallRegistry;
  /** The profiles in force (reloaded on SIGHUP); each call takes its profile from here once. */
  readonly assistants: AssistantBook;
  readonly log: Logger;
  /** For counting upstream messages the pool sends. */
  readonly metrics?: Metrics;
  readonly clock: Clock;
  /** @default createTwilioRest(config): null when TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are unset */
  readonly rest?: TwilioRest | null;
  /** @default PREWARM_TIMEOUT_MS (15 s) */
  readonly prewarmTimeoutMs?: number;
  /** Opens a call's Realtime socket on `model` (the app wraps connectRealtime to watch upstream health). */
  readonly connect?: (callSid: string, model: string) => WebSocket;
  /** Wire to the guard: a bad signature on /twilio/call-status (the guard let it through to be checked). */
  readonly onBadSignature?: OnBadSignature;
  /** Wire to the guard: a wrong API token on POST /calls. */
  readonly onBadToken?: (request: FastifyRequest) => void;
}

export interface CallControl {
  /** For the stream route: the call's configured upstream, with its profile and tool dispatcher. */
  readonly openUpstream: UpstreamProvider;
  /** For the webhooks: the profile of a call whose stream TwiML is being served (resolved once, kept). */
  readonly assistantFor: (call: WebhookCall) => Assistant;
  /** For the webhooks: a verified webhook served stream TwiML (pre-warm here). */
  readonly onTwimlServed: (event: TwimlServedEvent) => void;
  /** Registers POST /calls and POST /calls/browser (when API_TOKEN is set) and POST /twilio/call-status. */
  register(app: FastifyInstance): void;
  /** Closes pre-warmed sessions (on app close). */
  close(): void;
}

/** The names of the tools `assistant`'s calls declare: none without REST credentials (hang-up needs them). */
export function declaredToolNames(assistant: Assistant, withRest: boolean): string[] {
  return withRest ? callToolsFor(assistant).map((tool) => tool.declaration.name) : [];
}

export function createCallControl(opts: CallControlOptions): CallControl {
  const { config, registry, clock, assistants: book } = opts;
  const now = clock.wall;
  const log = opts.log;
  const rest = opts.rest === undefined ? createTwilioRest(config) : opts.rest;
  const pending = new PendingCalls();
  const toolsFor = toolSets(config, rest);
  const pool = new UpstreamPool({
    config,
    registry,
    callFor: (callSid, named): PendingCall =>
      pending.take(callSid, now()) ?? {
        assistant: (named === undefined ? undefined : book.byName(named)) ?? book.current().default,
        greeting: undefined,
      },
    toolsFor,
    log,
    clock,
    prewarmTimeoutMs: opts.prewarmTimeoutMs,
    connect: opts.connect,
    metrics: opts.metrics,
  });
  const notice = restSettingsNotice(config);
  if (notice) log.info(notice);

  return {
    openUpstream: pool.provider,
    assistantFor({ callSid, direction, to }) {
      const kept = pending.peek(callSid, now());
      if (kept) return kept.assistant; // placed through POST /calls, or a repeated webhook
      // Inbound: the called number's profile. Outbound without POST /calls: the default.
      const assistant = direction === 'inbound' ? book.forNumber(to) : book.current().default;
      // Kept as long as the stream token it goes with: after that no stream can start.
      pending.set(callSid, { assistant, greeting: undefined }, now(), config.streamTokenTtlSeconds * 1000);
      return assistant;
    },
    onTwimlServed: (event) => {
      pool.prewarm(event.callSid, event.assistant);
    },
    register(app) {
      registerCallsRoute(app, { config, registry, rest, pending, profiles: () => book.current(), now, onBadToken: opts.onBadToken });
      registerBrowserCallRoute(app, {
        config,
        registry,
        now,
        // As a webhook does: the profile kept as long as the token (the default: no number was
        // called), and the upstream pre-warmed (an API-token holder asked; PREWARM applies).
        prepare: (callSid) => {
          const assistant = book.current().default;
          pending.set(callSid, { assistant, greeting: undefined }, now(), config.streamTokenTtlSeconds * 1000);
          pool.prewarm(callSid, assistant);
          return assistant;
        },
        onBadToken: opts.onBadToken,
      });
      registerCallStatusRoute(app, {
        config,
        onBadSignature: opts.onBadSignature,
        onCallOver: (callSid) => {
          pending.delete(callSid);
          pool.discard(callSid);
        },
      });
    },
    close() {
      pool.close();
    },
  };
}

/**
 * A profile → its calls' tools and dispatcher, built once per profile: cached on the profile's
 * `tools` array, which a per-call instructions override (withInstructions) keeps, so overridden
 * calls share their profile's router. Without REST credentials no profile declares tools.
 */
function toolSets(config: Config, rest: TwilioRest | null): (assistant: Assistant, callSid: string) => CallToolSet {
  const none: CallToolSet = { declarations: [] };
  type Cached = { readonly transferNumber: string | undefined; readonly set: CallToolSet };
  /** Phone calls' and browser calls' sets apart: a browser call has no transfer_call. */
  const caches = { phone: new WeakMap<readonly string[], Cached>(), browser: new WeakMap<readonly string[], Cached>() };
  return (assistant, callSid) => {
    if (!rest) return none;
    const browser = isBrowserCallSid(callSid);
    const cache = browser ? caches.browser : caches.phone;
    const hit = cache.get(assistant.tools);
    if (hit && hit.transferNumber === assistant.transferNumber) return hit.set;
    const router = createToolRouter(callToolsFor(assistant, { browser }), { rest, config });
    const set: CallToolSet = { declarations: router.declarations, onToolCall: router.onToolCall };
    cache.set(assistant.tools, { transferNumber: assistant.transferNumber, set });
    return set;
  };
}

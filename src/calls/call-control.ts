/**
 * Call control, wired: outbound calls (`POST /calls`, `POST /twilio/call-status`), the
 * assistant's tools (end_call; transfer_call with TRANSFER_NUMBER), per-call greetings and
 * pre-warmed upstream sessions. `buildApp` hands the pieces to the webhooks and the stream route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Config } from '../config.js';
import type { WebSocket } from 'ws';
import type { CallRegistry } from '../call-registry.js';
import type { Clock } from '../clock.js';
import type { TwimlServedEvent } from '../twilio/webhooks.js';
import type { OnBadSignature } from '../twilio/signature.js';
import type { SessionOptions } from '../stream/session.js';
import type { UpstreamProvider } from '../stream/upstream.js';
import { createTwilioRest, restSettingsNotice, type TwilioRest } from './twilio-rest.js';
import { PendingGreetings } from './greetings.js';
import { UpstreamPool } from './upstream-pool.js';
import { registerCallsRoute } from './calls-route.js';
import { registerCallStatusRoute } from './call-status-route.js';
import { createToolRouter } from './tools/router.js';
import { endCallTool } from './tools/end-call.js';
import { transferCallTool } from './tools/transfer-call.js';
import type { CallTool } from './tools/tool.js';

export interface CallControlOptions {
  readonly config: Config;
  readonly registry: CallRegistry;
  readonly log: Logger;
  /** For counting upstream messages the pool sends. */
  readonly metrics?: Metrics;
  readonly clock: Clock;
  /** @default createTwilioRest(config): null when TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are unset */
  readonly rest?: TwilioRest | null;
  /** @default PREWARM_TIMEOUT_MS (15 s) */
  readonly prewarmTimeoutMs?: number;
  /** Opens a call's Realtime socket (the app wraps connectRealtime to watch upstream health). */
  readonly connect?: (callSid: string) => WebSocket;
  /** Wire to the guard: a bad signature on /twilio/call-status (the guard let it through to be checked). */
  readonly onBadSignature?: OnBadSignature;
  /** Wire to the guard: a wrong API token on POST /calls. */
  readonly onBadToken?: (request: FastifyRequest) => void;
}

export interface CallControl {
  /** For the stream route: tools to declare and the tool-call dispatcher. */
  readonly extend: Pick<SessionOptions, 'tools' | 'onToolCall'>;
  readonly openUpstream: UpstreamProvider;
  /** For the webhooks: a verified webhook served stream TwiML (pre-warm here). */
  readonly onTwimlServed: (event: TwimlServedEvent) => void;
  /** Registers POST /calls (when API_TOKEN is set) and POST /twilio/call-status. */
  register(app: FastifyInstance): void;
  /** Closes pre-warmed sessions (on app close). */
  close(): void;
}

/** The tools this configuration can honour: none without REST credentials (hang-up needs them). */
export function callTools(config: Config, rest: TwilioRest | null): CallTool[] {
  if (!rest) return [];
  return config.transferNumber ? [endCallTool, transferCallTool(config.transferNumber)] : [endCallTool];
}

export function createCallControl(opts: CallControlOptions): CallControl {
  const { config, registry, clock } = opts;
  const now = clock.wall;
  const log = opts.log;
  const rest = opts.rest === undefined ? createTwilioRest(config) : opts.rest;
  const greetings = new PendingGreetings();
  const tools = callTools(config, rest);
  const router = rest ? createToolRouter(tools, { rest, config }) : null;
  const declarations = router?.declarations ?? [];
  const pool = new UpstreamPool({
    config,
    registry,
    tools: declarations,
    greetingFor: (callSid) => greetings.take(callSid, now()) ?? config.greeting,
    log,
    clock,
    prewarmTimeoutMs: opts.prewarmTimeoutMs,
    connect: opts.connect,
    metrics: opts.metrics,
  });
  const notice = restSettingsNotice(config);
  if (notice) log.info(notice);

  return {
    extend: { tools: declarations, ...(router ? { onToolCall: router.onToolCall } : {}) },
    openUpstream: pool.provider,
    onTwimlServed: (event) => {
      pool.prewarm(event.callSid);
    },
    register(app) {
      registerCallsRoute(app, { config, registry, rest, greetings, now, onBadToken: opts.onBadToken });
      registerCallStatusRoute(app, {
        config,
        onBadSignature: opts.onBadSignature,
        onCallOver: (callSid) => {
          greetings.delete(callSid);
          pool.discard(callSid);
        },
      });
    },
    close() {
      pool.close();
    },
  };
}

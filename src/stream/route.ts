/**
 * The Media Streams WebSocket route, `GET /twilio/stream/:token`.
 *
 * The pre-upgrade guard has already checked the token, claimed it (single use) and taken a call
 * slot; it hands us `request.streamAuth`. The route never trusts that a hook ran: without it the
 * socket is closed with 1008 and nothing upstream is opened.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import { STREAM_ROUTE } from '../twilio/stream-path.js';
import { StreamSession } from './session.js';
import type { UpstreamProvider } from './upstream.js';
import type { Clock } from '../clock.js';
import type { CallRecordFeed } from '../records/recorder.js';

/** What the guard proves about an upgrade before it completes. */
export interface StreamAuth {
  readonly callSid: string;
  readonly token: string;
  readonly expiresAt: number;
  /** The call slot the guard took; released when the TCP socket closes. */
  readonly slot?: { readonly ip: string; release(): void };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Decorated (and set) by the guard: src/guard/install.ts. */
    streamAuth?: StreamAuth;
  }
}

export interface StreamRouteOptions {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly openUpstream: UpstreamProvider;
  /** Live sessions (the app's; a drain and shutdown read it): each is added here and removed when it ends. */
  readonly sessions: Set<StreamSession>;
  readonly clock: Clock;
  /** Where each call's record goes. */
  readonly recorder?: CallRecordFeed;
}

export function registerStreamRoute(app: FastifyInstance, opts: StreamRouteOptions): void {
  const { sessions } = opts;

  app.get(STREAM_ROUTE, { websocket: true }, (socket: WebSocket, request) => {
    const auth = request.streamAuth;
    if (!auth) {
      request.log.warn('stream upgrade without guard credentials; closing');
      socket.close(1008, 'unauthorized');
      return;
    }
    const session = new StreamSession({
      config: opts.config,
      socket,
      callSid: auth.callSid,
      token: auth.token,
      // The app's logger is pino (buildApp passes a pino instance), typed by Fastify as its base.
      log: request.log.child({ callSid: auth.callSid }) as Logger,
      metrics: opts.metrics,
      openUpstream: opts.openUpstream,
      now: opts.clock.mono,
      recorder: opts.recorder,
      onEnd: () => sessions.delete(session),
    });
    sessions.add(session);
  });
}

/**
 * Draining: stop taking calls, let live ones finish, end the rest at a deadline.
 *
 * `registry.startDrain()` flips everything that decides about new calls at once: `/readyz`
 * answers 503, webhooks answer with spoken "please call back" TwiML (`canServeNewCall()` →
 * 'draining'), and the guard refuses anonymous upgrades with 503 while streams carrying a valid
 * token (TwiML already served) are still accepted. Then we wait, event-driven (no polling), until
 * nothing is live or `timeoutMs` passes; calls still live then are closed with 1001.
 * The caller (server.ts) closes the app and exits afterwards.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { systemClock } from '../clock.js';
import { SOCKET_CLOSE_GRACE_MS } from '../stream/socket-close.js';
import { PRE_CLOSE_MARGIN_MS } from './closing.js';

export interface DrainResult {
  readonly outcome: 'idle' | 'timeout';
  /** Calls live when the drain began. */
  readonly liveAtStart: number;
  /** Calls closed with 1001 at the deadline. */
  readonly closedAtDeadline: number;
  readonly waitedMs: number;
}

export interface DrainOptions {
  /** DRAIN_TIMEOUT_SECONDS in ms. */
  readonly timeoutMs: number;
  /** Monotonic clock, ms. @default systemClock.mono */
  readonly now?: () => number;
}

/** Nothing live: no session, no media-stream socket, no call slot (pre-warmed upstreams included). */
export function isIdle(app: FastifyInstance): boolean {
  return app.sessions.size === 0 && app.websocketServer.clients.size === 0 && app.registry.live === 0;
}

export async function drainCalls(app: FastifyInstance, opts: DrainOptions): Promise<DrainResult> {
  const now = opts.now ?? systemClock.mono;
  const startedAt = now();
  const liveAtStart = Math.max(app.sessions.size, app.registry.live);
  app.metrics.draining.set(1);
  app.registry.startDrain();
  app.log.info(
    { liveCalls: liveAtStart, drainTimeoutSeconds: opts.timeoutMs / 1000 },
    'draining: no new calls; waiting for live calls to end',
  );

  const outcome = await waitForIdle(app, opts.timeoutMs);
  let closedAtDeadline = 0;
  if (outcome === 'timeout') {
    const sessions = [...app.sessions];
    closedAtDeadline = sessions.length;
    app.log.warn({ liveCalls: sessions.length }, 'drain timeout: ending live calls with 1001');
    for (const session of sessions) session.close('drain_timeout');
    // Let the 1001 close frames go out and be answered (each socket is terminated after its grace).
    await waitForIdle(app, SOCKET_CLOSE_GRACE_MS + PRE_CLOSE_MARGIN_MS);
  }
  const result: DrainResult = { outcome, liveAtStart, closedAtDeadline, waitedMs: Math.round(now() - startedAt) };
  app.log.info(result, 'drain finished');
  return result;
}

/**
 * Resolves 'idle' as soon as `isIdle(app)` holds, or 'timeout' after `timeoutMs`. Re-checks only
 * when something that can change the answer happens: a call slot released, a media-stream socket
 * closed. Every listener and the timer are removed when it settles.
 */
export function waitForIdle(app: FastifyInstance, timeoutMs: number): Promise<'idle' | 'timeout'> {
  if (isIdle(app)) return Promise.resolve('idle');
  const { registry } = app;
  const wss = app.websocketServer;
  return new Promise((resolve) => {
    const watched = new Set<WebSocket>();
    let pending: NodeJS.Immediate | null = null;
    const settle = (outcome: 'idle' | 'timeout') => {
      clearTimeout(timer);
      if (pending) clearImmediate(pending);
      registry.off('change', check);
      registry.off('idle', check);
      wss.off('connection', watch);
      for (const socket of watched) socket.off('close', checkSoon);
      resolve(outcome);
    };
    function check() {
      if (isIdle(app)) settle('idle');
    }
    // A socket's 'close' listeners run in order: ws's own (which untracks it) and the session's
    // may come after ours, so look once they all have.
    function checkSoon() {
      pending ??= setImmediate(() => {
        pending = null;
        check();
      });
    }
    function watch(socket: WebSocket) {
      watched.add(socket);
      socket.once('close', checkSoon);
    }
    const timer = setTimeout(() => settle('timeout'), timeoutMs);
    registry.on('change', check);
    registry.on('idle', check);
    wss.on('connection', watch);
    for (const socket of wss.clients) watch(socket);
  });
}

/**
 * Closing the WebSocket side of the app without cutting calls and without leaking sockets.
 *
 * @fastify/websocket's default `preClose` closes every live socket the moment `app.close()`
 * starts. Ours runs after the drain (src/ops/drain.ts) has let calls end on their own, so it
 * normally finds nothing; whatever is left (a test calling `app.close()` directly, or a call
 * that raced the drain) is ended the same way a drain timeout ends it: the session closes with
 * 1001, each socket gets SOCKET_CLOSE_GRACE_MS to answer, then it is terminated.
 *
 * While closing, Fastify answers every request with its own 503 (`return503OnClosing`) straight
 * from the router, before any hook. For an upgrade request that response is written onto the raw
 * socket by @fastify/websocket, and nothing ever ends that socket: an upgrade storm during a
 * restart would pile up open sockets. `refuseUpgradesWhileClosing` ends and destroys them.
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { SOCKET_CLOSE_GRACE_MS } from '../stream/socket-close.js';

/** Extra time in ms, beyond the per-socket grace, before stragglers are terminated. */
export const PRE_CLOSE_MARGIN_MS = 250;

/** Shutdown state shared by the pieces that close the app. */
export interface OpsState {
  /** Set when `app.close()` begins: upgrades are refused and their sockets destroyed. */
  closing: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    ops: OpsState;
  }
}

/**
 * The `preClose` option for @fastify/websocket (`this` is the app): ends remaining sessions
 * with 1001, waits a bounded time for their sockets, terminates stragglers, closes the server.
 */
export function websocketPreClose(this: FastifyInstance, done: () => void): void {
  if (this.hasDecorator('ops')) this.ops.closing = true;
  const wss = this.websocketServer;
  const sessions = this.hasDecorator('sessions') ? [...this.sessions] : [];
  if (sessions.length > 0) {
    this.log.warn({ liveCalls: sessions.length }, 'closing with calls still live; ending them with 1001');
  }
  for (const session of sessions) session.close('drain_timeout');
  const clients = [...wss.clients];
  const finish = () => {
    for (const client of wss.clients) client.terminate();
    // ws calls back once every tracked client has emitted 'close'.
    wss.close(() => done());
  };
  if (clients.length === 0) return finish();
  // Sockets not owned by a session (refused in the handler, closing already) get the same grace.
  for (const client of clients) closeGoingAway(client);
  const timer = setTimeout(finish, SOCKET_CLOSE_GRACE_MS + PRE_CLOSE_MARGIN_MS);
  let open = clients.length;
  for (const client of clients) {
    client.once('close', () => {
      open -= 1;
      if (open === 0) {
        clearTimeout(timer);
        finish();
      }
    });
  }
}

function closeGoingAway(socket: WebSocket): void {
  if (socket.readyState === 1 /* OPEN */) socket.close(1001, 'server shutting down');
}

/**
 * Destroys the socket of every upgrade request that arrives once the app is closing. Fastify's
 * router has already written its 503 onto it (synchronously, in @fastify/websocket's listener);
 * waiting one turn keeps that true whatever order the listeners were added in.
 */
export function refuseUpgradesWhileClosing(app: FastifyInstance): void {
  app.server.on('upgrade', (_request: IncomingMessage, socket: Duplex) => {
    if (!app.ops.closing) return;
    setImmediate(() => {
      // Flush the 503 (if any), then destroy; never wait on the client to close its side.
      // end()'s callback runs on 'finish', or at once with an error if the socket already ended.
      if (!socket.destroyed) socket.end(() => socket.destroy());
    });
  });
}

/**
 * Refusals: a plain HTTP status with a small JSON body, `Retry-After` where waiting helps, and
 * the connection closed afterwards.
 *
 * An ordinary request is closed by Node because of `Connection: close`. An upgrade request has
 * left Node's HTTP machinery (its socket came through the 'upgrade' event), so nothing would
 * ever close it: the guard's onResponse hook destroys it once the response is flushed (see
 * `destroyUpgradeSocket`). A successful upgrade hijacks the reply, so onResponse never runs for it.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply } from 'fastify';

export type RefusalStatus = 401 | 403 | 409 | 429 | 503;

const STATUS_TEXT: Readonly<Record<RefusalStatus, string>> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  409: 'Conflict',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/**
 * Sends the refusal. Returns nothing on purpose: Fastify's reply is thenable, and an async hook
 * that returned or awaited it would wait for the response to finish.
 */
export function refuse(reply: FastifyReply, status: RefusalStatus, reason: string, retryAfterMs?: number): void {
  reply.code(status).header('connection', 'close').header('cache-control', 'no-store');
  // Whole seconds, rounded up, at least 1: a client that waits that long is not refused again.
  if (retryAfterMs !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  void reply.send({ error: STATUS_TEXT[status], reason });
}

/** True when Node handed this request over through the 'upgrade' event. */
export function isUpgrade(raw: IncomingMessage): boolean {
  const upgrade = raw.headers.upgrade;
  const connection = raw.headers.connection;
  return upgrade !== undefined && typeof connection === 'string' && /(^|,)\s*upgrade\s*(,|$)/i.test(connection);
}

/** For onResponse: an upgrade request answered with plain HTTP has its socket destroyed. */
export function destroyUpgradeSocket(raw: IncomingMessage): void {
  if (isUpgrade(raw)) raw.socket.destroy();
}

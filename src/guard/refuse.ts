/**
 * Refusals: a plain HTTP status with a small JSON body, `Retry-After` where waiting helps, and
 * the connection closed afterwards. Sent either through Fastify's reply or, for the fast lane
 * (fast-refusal.ts), as prebuilt bytes straight onto the upgrade socket; both say the same.
 *
 * An ordinary request is closed by Node because of `Connection: close`. An upgrade request has
 * left Node's HTTP machinery (its socket came through the 'upgrade' event), so nothing would
 * ever close it: the guard's onResponse hook destroys it once the response is flushed (see
 * `destroyUpgradeSocket`). A successful upgrade hijacks the reply, so onResponse never runs for it.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply } from 'fastify';
import { REASONS, type RefusalReason, type RefusalStatus } from './reasons.js';

export type { RefusalReason, RefusalStatus };

/** What a refusal says; `retryAfterMs` only where waiting helps. */
export interface Refusal {
  readonly status: RefusalStatus;
  readonly reason: RefusalReason;
  readonly retryAfterMs?: number | undefined;
}

const STATUS_TEXT: Readonly<Record<RefusalStatus, string>> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  409: 'Conflict',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Bodies and raw heads by status and reason. Reasons are the registry's (reasons.ts, a closed
 * set of about twenty), never client input, so these caches stay a few dozen entries.
 */
const bodies = new Map<string, string>();
const rawHeads = new Map<string, string>();

function bodyOf(status: RefusalStatus, reason: RefusalReason): string {
  const key = `${status} ${reason}`;
  let body = bodies.get(key);
  if (body === undefined) bodies.set(key, (body = JSON.stringify({ error: STATUS_TEXT[status], reason: REASONS[reason].code })));
  return body;
}

/** Whole seconds, rounded up, at least 1: a client that waits that long is not refused again. */
function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * Sends the refusal. Returns nothing on purpose: Fastify's reply is thenable, and an async hook
 * that returned or awaited it would wait for the response to finish. The body is a prebuilt
 * string, so nothing is serialised per refusal.
 */
export function refuse(reply: FastifyReply, refusal: Refusal): void {
  const { status, reason, retryAfterMs } = refusal;
  reply.code(status).header('connection', 'close').header('cache-control', 'no-store').header('content-type', JSON_TYPE);
  if (retryAfterMs !== undefined) reply.header('retry-after', retryAfterSeconds(retryAfterMs));
  void reply.send(bodyOf(status, reason));
}

/**
 * The same refusal as one HTTP/1.1 response in bytes (ASCII), for writing straight onto a
 * socket that left Node's HTTP machinery through the 'upgrade' event.
 */
export function rawRefusal(refusal: Refusal): string {
  const { status, reason, retryAfterMs } = refusal;
  const key = `${status} ${reason}`;
  let head = rawHeads.get(key);
  if (head === undefined) {
    const body = bodyOf(status, reason);
    head =
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nconnection: close\r\ncache-control: no-store\r\n` +
      `content-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    rawHeads.set(key, head);
  }
  const retry = retryAfterMs === undefined ? '' : `retry-after: ${retryAfterSeconds(retryAfterMs)}\r\n`;
  return `${head}${retry}\r\n${bodyOf(status, reason)}`;
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

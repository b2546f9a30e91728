/**
 * The call-record API, for `API_TOKEN` holders (the same check as POST /calls, bearer-hook.ts;
 * no route exists while API_TOKEN is unset):
 *
 * - `GET /calls?limit=&before=&direction=&number=`: the history, newest first, without turns:
 *   `{ calls: [summary…], next: cursor | null }`; pass `next` as `before` for the next page.
 * - `GET /calls/:callSid`: one record with its turns; 404 `unknown_call`, 400 `invalid_call_sid`.
 * - `GET /calls/live`: this instance's calls in progress with their elapsed time.
 *
 * Errors have the shape of the other routes: `{ error, reason, message }`. 400 `invalid_query`
 * says what is wrong; 503 `store_unavailable` when the database does not answer within
 * READ_TIMEOUT_MS; 404 `records_off` for the history while CALL_RECORDS=off. Answers carry
 * callers' words and numbers: `Cache-Control: no-store`, and nothing of them is logged.
 */
import { withDeadline } from '../deadline.js';
import { sendError } from '../http-errors.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireBearer } from '../bearer-hook.js';
import { isCallSid, MAX_CALL_SID_LENGTH } from '../twilio/call-sid.js';
import { formatCursor } from './cursor.js';
import { parseListQuery } from './list-query.js';
import type { LiveCall } from './recorder.js';
import { describeStoreError, type RecordStore } from './store.js';

/** How long an API request waits for the database before answering 503, ms. @default 5000 */
export const READ_TIMEOUT_MS = 5000;

export interface CallRecordsRoutesOptions {
  /** Unset: the routes are not registered (404), as POST /calls. */
  readonly apiToken: string | undefined;
  /** null: recording is off (CALL_RECORDS=off). */
  readonly store: RecordStore | null;
  /** This instance's calls in progress (CallRecorder.live). */
  readonly live: () => readonly LiveCall[];
  /** Wall clock, ms since the epoch (elapsed time of live calls). */
  readonly now: () => number;
  /** Told when a wrong API token is presented (the guard's cooldown). */
  readonly onBadToken?: (request: FastifyRequest) => void;
  readonly readTimeoutMs?: number;
}

export function registerCallRecordsRoutes(app: FastifyInstance, opts: CallRecordsRoutesOptions): void {
  if (!opts.apiToken) return;
  const { store, now } = opts;
  const readTimeoutMs = opts.readTimeoutMs ?? READ_TIMEOUT_MS;
  const routeOpts = { onRequest: requireBearer({ token: opts.apiToken, onBadToken: opts.onBadToken }), errorHandler };

  /** The store's answer, or a 503 sent (and undefined returned) when it fails or is too slow. */
  async function ask<T>(request: FastifyRequest, reply: FastifyReply, what: (s: RecordStore) => Promise<T>): Promise<T | undefined> {
    if (!store) {
      void sendError(reply, 404, 'records_off', 'call records are off (CALL_RECORDS=off)');
      return undefined;
    }
    try {
      return await withDeadline(what(store), readTimeoutMs, 'the call-record database');
    } catch (err) {
      request.log.warn({ problem: describeStoreError(err), store: store.kind }, 'call-record database did not answer an API request');
      void sendError(reply.header('Retry-After', '5'), 503, 'store_unavailable', 'the call-record database is not answering; try again shortly');
      return undefined;
    }
  }

  app.get('/calls', routeOpts, async (request, reply) => {
    const verdict = parseListQuery(request.query);
    if (!verdict.ok) return sendError(reply, 400, 'invalid_query', verdict.message);
    const page = await ask(request, reply, (s) => s.list(verdict.query));
    if (page === undefined) return reply;
    return reply.header('Cache-Control', 'no-store').send({ calls: page.calls, next: page.next ? formatCursor(page.next) : null });
  });

  // A static route: Fastify matches it before /calls/:callSid, so "live" is never taken for a CallSid.
  app.get('/calls/live', routeOpts, async (_request, reply) => {
    const at = now();
    const calls = [...opts.live()]
      .sort((a, b) => b.startedAt - a.startedAt)
      .map((c) => ({ ...c, elapsedMs: Math.max(0, at - c.startedAt) }));
    return reply.header('Cache-Control', 'no-store').send({ calls });
  });

  app.get<{ Params: { callSid: string } }>('/calls/:callSid', routeOpts, async (request, reply) => {
    const { callSid } = request.params;
    if (!isCallSid(callSid)) {
      return reply.code(400).send({
        error: 'Bad Request',
        reason: 'invalid_call_sid',
        message: `a CallSid is 1 to ${MAX_CALL_SID_LENGTH} ASCII letters and digits`,
      });
    }
    const record = await ask(request, reply, (s) => s.get(callSid));
    if (record === undefined) return reply;
    if (record === null) return sendError(reply, 404, 'unknown_call', 'no record of this call');
    return reply.header('Cache-Control', 'no-store').send(record);
  });
}

/** Anything thrown on these routes is ours: 500 with a generic message, the detail in the log. */
function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  request.log.error({ err: { message: error.message, code: error.code } }, `${request.method} ${request.routeOptions.url ?? ''} failed`);
  void sendError(reply, 500, 'internal', 'internal error; the details are in the server log');
}

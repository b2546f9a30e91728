/**
 * The `API_TOKEN` check shared by every API route (POST /calls, GET /calls…): an onRequest hook,
 * so an unauthenticated request costs no body parsing and no database query. The token is
 * compared in constant time (bearer.ts). Answers 401 with `WWW-Authenticate`:
 * - `missing_token`: no Bearer credentials at all (not reported to the guard: a client without a
 *   token is not guessing);
 * - `bad_token`: the wrong token, logged (no IP here: the guard logs it with the cooldown it
 *   starts) and reported through `onBadToken`.
 */
import { sendError } from './http-errors.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearer, hasBearer } from './bearer.js';

export interface BearerHookOptions {
  readonly token: string;
  /** Told when a wrong token is presented, so the guard can put the source in a cooldown. */
  readonly onBadToken?: (request: FastifyRequest) => void;
}

export function requireBearer(opts: BearerHookOptions): (request: FastifyRequest, reply: FastifyReply, done: () => void) => void {
  const { token } = opts;
  return function authorize(request, reply, done) {
    if (bearer(request.headers.authorization) === null) {
      void sendError(reply.header('WWW-Authenticate', 'Bearer realm="voice-bridge"'), 401, 'missing_token', 'send Authorization: Bearer <API_TOKEN>');
      return;
    }
    if (!hasBearer(request.headers.authorization, token)) {
      request.log.warn(`${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} with a wrong API token`);
      opts.onBadToken?.(request);
      void sendError(reply.header('WWW-Authenticate', 'Bearer realm="voice-bridge", error="invalid_token"'), 401, 'bad_token', 'the API token is wrong');
      return;
    }
    done();
  };
}

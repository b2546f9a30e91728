/**
 * Error answers of the HTTP API, in one shape everywhere: `{ error, reason, message? }` —
 * `error` the status text, `reason` a stable code a client can branch on, `message` for people.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';

export interface ErrorBody {
  readonly error: string;
  readonly reason: string;
  readonly message?: string;
}

export function errorBody(status: number, reason: string, message?: string): ErrorBody {
  const error = STATUS_CODES[status] ?? 'Error';
  return message === undefined ? { error, reason } : { error, reason, message };
}

/** Sends the error answer; returns the reply (Fastify's, thenable: return it or `void` it). */
export function sendError(reply: FastifyReply, status: number, reason: string, message?: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(status, reason, message));
}

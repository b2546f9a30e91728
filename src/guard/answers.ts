/**
 * What a refused client is told, given the store's verdict on its attempt: the ban or budget
 * refusal when there is one, else the refusal its failed credential earns. Pure.
 */
import type { CredentialRejection } from './credentials.js';
import type { GateVerdict } from './decide.js';
import type { BanVerdict } from './penalty.js';
import type { Refusal, RefusalReason } from './refuse.js';
import type { SignatureRejection } from '../twilio/signature.js';

export type { SignatureRejection };

/** The refusal, and the ban to log with what earned it. */
export interface Answer {
  readonly refusal: Refusal;
  readonly ban: BanVerdict | undefined;
  /** What earned the ban: the verdict's reason or the credential's. */
  readonly cause: RefusalReason;
}

/** The store refused (a ban, the flood rule, a budget): its refusal, and the ban it started. */
export function answerRefused(verdict: GateVerdict & { readonly ok: false }): Answer {
  const { status, reason, retryAfterMs } = verdict;
  return { refusal: { status, reason, retryAfterMs }, ban: verdict.ban, cause: reason };
}

/** An anonymous stream upgrade (missing or rejected token): 401, or 503 while draining. */
export function answerAnonymous(verdict: GateVerdict, draining: boolean, rejection: CredentialRejection): Answer {
  if (!verdict.ok) return answerRefused(verdict);
  // While draining the attempt was not penalised (see gateStream), so there is no ban to log.
  if (draining) return { refusal: { status: 503, reason: 'draining' }, ban: undefined, cause: 'draining' };
  return { refusal: { status: 401, reason: rejection }, ban: verdict.ban, cause: rejection };
}

/** A webhook whose signature failed: 403 (SPEC: a wrong signature gets 403), with the cooldown it started. */
export function answerBadSignature(verdict: GateVerdict, reason: SignatureRejection): Answer {
  if (!verdict.ok) return answerRefused(verdict);
  return { refusal: { status: 403, reason }, ban: verdict.ban, cause: reason };
}

/**
 * The one decision on a stream upgrade's credentials, shared by the raw-socket fast lane
 * (fast-refusal.ts) and the Fastify hook (install.ts), so the two cannot drift: both gather the
 * facts, ask `judgeUpgrade`, and carry out what it says the same way (verdicts.ts `answer`).
 *
 * Pure. Facts are gathered lazily because one of them costs: the store's verdict on an
 * anonymous attempt spends the address's budget, so it is asked for only when the judge says
 * `ask_store` (valid credentials are never judged by their address), then the judge is asked
 * again with it. `now` went into the facts already (the token's expiry, the store's budgets).
 */
import type { Answer } from './answers.js';
import { answerAnonymous } from './answers.js';
import type { CredentialVerdict } from './credentials.js';
import type { GateVerdict } from './decide.js';

export interface UpgradeFacts {
  /** The token (and upgrade signature) check, credentials.ts. */
  readonly credentials: CredentialVerdict;
  /** The instance is draining: no new streams. */
  readonly draining: boolean;
  /** The store's verdict on this anonymous attempt; undefined until asked (or when it cannot say at once). */
  readonly attempt: GateVerdict | undefined;
}

export type UpgradeVerdict =
  /** Valid credentials: never refused for the address; admission (capacity, claims) decides. */
  | { readonly kind: 'admit'; readonly callSid: string; readonly expiresAt: number }
  /** Anonymous, and only the store's verdict on the attempt can say more. */
  | { readonly kind: 'ask_store' }
  /** Refused: the answer to send, and the ban to log with its cause. */
  | { readonly kind: 'refuse'; readonly answer: Answer };

/** With the store's verdict in hand the judge always concludes. */
export function judgeUpgrade(facts: UpgradeFacts & { readonly attempt: GateVerdict }): Exclude<UpgradeVerdict, { kind: 'ask_store' }>;
export function judgeUpgrade(facts: UpgradeFacts): UpgradeVerdict;
export function judgeUpgrade(facts: UpgradeFacts): UpgradeVerdict {
  const { credentials } = facts;
  if (credentials.ok) return { kind: 'admit', callSid: credentials.callSid, expiresAt: credentials.expiresAt };
  if (facts.attempt === undefined) return { kind: 'ask_store' };
  return { kind: 'refuse', answer: answerAnonymous(facts.attempt, facts.draining, credentials.reason) };
}

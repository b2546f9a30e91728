/**
 * Carrying out the guard's verdicts on a Fastify request: count the refusal, send it, log the
 * ban it started. Shared by every part of the guard that answers through Fastify (install.ts,
 * signed-webhooks.ts), so they all count and log alike.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { Answer } from './answers.js';
import type { Metrics } from '../metrics.js';
import { ipHasher } from './client-ip.js';
import type { BanVerdict } from './penalty.js';
import { refuse, type Refusal, type RefusalReason } from './refuse.js';
import { REASONS } from './reasons.js';

/** One request being judged: `ip` is its guard key, `now` the decision time (ms). */
export interface Judged {
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly ip: string;
  readonly now: number;
}

export interface Verdicts {
  /** rejections_total{reason} += 1. */
  count(reason: RefusalReason): void;
  /** Counts and sends a refusal (the socket closes after it). */
  say(at: Judged, refusal: Refusal): void;
  /**
   * Everything about a refusal but sending it: logs the ban it started, counts it, logs the
   * refusal (debug). The fast lane then writes it on the raw socket; `say` sends it through Fastify.
   */
  record(log: FastifyBaseLogger, ip: string, now: number, answer: Answer): void;
  /** `record`, then sends the refusal through Fastify. */
  answer(at: Judged, answer: Answer): void;
  /** New bans: a first cooldown at debug (one per offending IP); floods and escalations at info, IP hashed. */
  logBan(log: FastifyBaseLogger, ip: string, now: number, ban: BanVerdict | undefined, cause: RefusalReason): void;
  /** The keyed label for an IP in info/warn lines (client-ip.ts). */
  hashIp(ip: string): string;
}

export function createVerdicts(metrics: Pick<Metrics, 'rejections'>, streamSecret: string): Verdicts {
  const hashIp = ipHasher(streamSecret);
  // Pre-bound counters: a refusal during a flood costs one addition, not a label lookup.
  const rejected = new Map<RefusalReason, { inc(): void }>();
  const count = (reason: RefusalReason): void => {
    let child = rejected.get(reason);
    if (child === undefined) rejected.set(reason, (child = metrics.rejections.labels(REASONS[reason].code)));
    child.inc();
  };
  const refused = (log: FastifyBaseLogger, ip: string, refusal: Refusal): void => {
    count(refusal.reason);
    log.debug({ ip, status: refusal.status, reason: REASONS[refusal.reason].code }, 'guard refused');
  };
  const logBan: Verdicts['logBan'] = (log, ip, now, ban, cause) => {
    if (ban?.fresh !== true) return;
    const seconds = Math.ceil((ban.until - now) / 1000);
    const fields = { ipHash: hashIp(ip), cause: REASONS[cause].code, label: ban.label, seconds, strikes: ban.strikes };
    if (ban.strikes > 1 || cause === 'flood') log.info(fields, 'guard ban');
    else log.debug({ ...fields, ip }, 'guard cooldown');
  };
  const record: Verdicts['record'] = (log, ip, now, answer) => {
    logBan(log, ip, now, answer.ban, answer.cause);
    refused(log, ip, answer.refusal);
  };
  return {
    count,
    hashIp,
    logBan,
    say(at, refusal) {
      refused(at.request.log, at.ip, refusal);
      refuse(at.reply, refusal);
    },
    record,
    answer(at, answer) {
      record(at.request.log, at.ip, at.now, answer);
      refuse(at.reply, answer.refusal);
    },
  };
}

/**
 * The guard's limits, converted once from Config into the units the decisions use (ms, counts).
 *
 * Every instance sharing a Redis should run with the same limits: the Lua scripts take them as
 * arguments on each call, so a mismatch cannot corrupt state, but two instances would judge the
 * same record differently.
 */
import type { Config } from '../config.js';

export interface GuardLimits {
  /** Token-bucket refill, attempts per minute. @default 10 (UPGRADE_RATE_PER_MINUTE) */
  readonly ratePerMinute: number;
  /** Token-bucket capacity, attempts. @default 20 (UPGRADE_BURST) */
  readonly burst: number;
  /** First ban after a rejected credential, ms. @default 30_000 (REJECT_COOLDOWN_SECONDS) */
  readonly cooldownMs: number;
  /** First ban after a flood, ms. @default 300_000 (FLOOD_BLOCK_SECONDS) */
  readonly floodBlockMs: number;
  /** No ban is longer than this, ms. @default 86_400_000 (BAN_MAX_SECONDS) */
  readonly banMaxMs: number;
  /** A ban starting within this long after the previous one ended doubles, ms. @default 86_400_000 (24 h) */
  readonly strikeWindowMs: number;
  /** More requests than this within the flood window is a flood. @default 20 (FLOOD_MAX_REQUESTS) */
  readonly floodMax: number;
  /** Flood window, ms. @default 5_000 (FLOOD_WINDOW_SECONDS) */
  readonly floodWindowMs: number;
}

/** 24 h: how long an IP's ban history counts toward escalation. */
export const STRIKE_WINDOW_MS = 24 * 60 * 60 * 1000;

export type GuardConfig = Pick<
  Config,
  | 'upgradeRatePerMinute'
  | 'upgradeBurst'
  | 'rejectCooldownSeconds'
  | 'floodBlockSeconds'
  | 'banMaxSeconds'
  | 'floodMaxRequests'
  | 'floodWindowSeconds'
>;

export function guardLimits(config: GuardConfig): GuardLimits {
  return Object.freeze({
    ratePerMinute: config.upgradeRatePerMinute,
    burst: config.upgradeBurst,
    cooldownMs: config.rejectCooldownSeconds * 1000,
    floodBlockMs: config.floodBlockSeconds * 1000,
    banMaxMs: config.banMaxSeconds * 1000,
    strikeWindowMs: STRIKE_WINDOW_MS,
    floodMax: config.floodMaxRequests,
    floodWindowMs: config.floodWindowSeconds * 1000,
  });
}

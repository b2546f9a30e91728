/**
 * Cooldowns and bans with progressive escalation.
 *
 * A rejected credential starts a cooldown (`cooldownMs`, 30 s by default); a flood starts a ban
 * (`floodBlockMs`, 5 min). Each further ban of the same IP that starts within `strikeWindowMs`
 * (24 h) after the previous one ended doubles: 30 s → 60 s → 120 s …, never longer than
 * `banMaxMs`. (Counting from the end, not the start, so a 24 h ban is not followed by a fresh
 * 30 s cooldown.)
 * A ban requested while one is running adds nothing: concurrent refusals of one burst count as
 * one strike, and an attacker cannot escalate a shared IP faster than one strike per ban.
 * Bans never shorten: `until` only grows.
 *
 * Pure; mirrored in Lua in redis-scripts.ts.
 */

export interface PenaltyLimits {
  readonly cooldownMs: number;
  readonly floodBlockMs: number;
  readonly banMaxMs: number;
  readonly strikeWindowMs: number;
}

export type BanCause = 'credential' | 'flood';

export interface PenaltyState {
  /** Refused until this time, ms. */
  readonly until: number;
  /** Bans in the current escalation chain, 1 … MAX_STRIKES. */
  readonly strikes: number;
  /** A first ban for a credential is a `cooldown`; escalated and flood bans are `banned`. */
  readonly label: 'cooldown' | 'banned';
}

/**
 * Strikes stop counting here. Every ban is at the cap long before (2^32 ms is already more than
 * the largest BAN_MAX_SECONDS), and a bounded counter keeps the state bounded.
 */
export const MAX_STRIKES = 64;

export interface BanVerdict {
  /** The IP is refused until this time, ms. */
  readonly until: number;
  readonly strikes: number;
  readonly label: 'cooldown' | 'banned';
  /** True when this call started a new ban; false when one was already running. */
  readonly fresh: boolean;
}

/** Whether `state` refuses the IP at `now`. */
export function activeBan(state: PenaltyState | undefined, now: number): PenaltyState | undefined {
  return state !== undefined && state.until > now ? state : undefined;
}

/** Starts a ban (or leaves a running one as it is). */
export function ban(
  state: PenaltyState | undefined,
  now: number,
  cause: BanCause,
  limits: PenaltyLimits,
): { verdict: BanVerdict; nextState: PenaltyState | undefined } {
  if (state !== undefined && state.until > now) {
    const verdict = { until: state.until, strikes: state.strikes, label: state.label, fresh: false };
    return { verdict, nextState: state };
  }
  const base = cause === 'credential' ? limits.cooldownMs : limits.floodBlockMs;
  // REJECT_COOLDOWN_SECONDS=0: no ban and no strike. (The verdict must not echo an expired
  // state: a record past its stale time has to decide exactly like one never seen.)
  if (base === 0) return { verdict: { until: now, strikes: 0, label: 'cooldown', fresh: false }, nextState: state };
  const chained = state !== undefined && now - state.until < limits.strikeWindowMs;
  const strikes = chained ? Math.min(state.strikes + 1, MAX_STRIKES) : 1;
  const duration = Math.min(base * 2 ** (strikes - 1), limits.banMaxMs);
  // Never shorter than before: a running ban returned above, so any earlier `until` is ≤ now.
  const until = now + duration;
  const label = cause === 'credential' && strikes === 1 ? 'cooldown' : 'banned';
  const nextState: PenaltyState = { until, strikes, label };
  return { verdict: { until, strikes, label, fresh: true }, nextState };
}

/** When the state no longer affects any decision (ban over and history forgotten), ms. */
export function penaltyQuietAt(state: PenaltyState, limits: PenaltyLimits): number {
  return state.until + limits.strikeWindowMs;
}

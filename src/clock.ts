/**
 * The app's one source of time. Two clocks, because they answer different questions:
 *
 * - `wall`: ms since the epoch — what other machines agree on (token expiry, bans kept in Redis,
 *   the Realtime session's `expires_at`). It can step (NTP), so never measure a duration with it.
 * - `mono`: a monotonic ms count — durations, frame windows, playback position, connect times.
 *
 * Everything that decides on time takes it from the Clock it was given, so a test moves a fake
 * clock instead of sleeping.
 */
export interface Clock {
  readonly wall: () => number;
  readonly mono: () => number;
}

export const systemClock: Clock = Object.freeze({
  wall: () => Date.now(),
  mono: () => performance.now(),
});

/** `systemClock` with some of its clocks replaced (tests fake the wall clock and keep real timers). */
export function clockWith(overrides: Partial<Clock> | undefined): Clock {
  return overrides ? Object.freeze({ ...systemClock, ...overrides }) : systemClock;
}

/** The fakes' one clock for schedules and arrival times. */
import { performance } from 'node:perf_hooks';

/** Monotonic ms clock used for all schedules (immune to wall-clock steps). */
export const monotonicNow = (): number => performance.now();

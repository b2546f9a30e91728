import { guardLimits } from '../../src/guard/index.js';

/**
 * The guard's limits at SPEC defaults, spelled out so the tests' expected numbers are visible:
 * 10 attempts/min with a burst of 20, 30 s cooldown doubling to 86,400 s, more than 20 requests
 * in 5 s → 300 s.
 */
export const SPEC_LIMITS = guardLimits({
  upgradeRatePerMinute: 10,
  upgradeBurst: 20,
  rejectCooldownSeconds: 30,
  floodBlockSeconds: 300,
  banMaxSeconds: 86_400,
  floodMaxRequests: 20,
  floodWindowSeconds: 5,
});

/**
 * A CPU profile of the bridge under a given load: N calls are placed, then the bridge profiles
 * itself for a window (V8's sampling profiler through its inspector, as `node --cpu-prof` uses),
 * and the profile is summarised by function and by component.
 */
import { sleep, startBenchBridge } from './harness.js';
import { startRealtimeStandIn } from '../tools/sim/realtime-stand-in.js';
import { startRig } from './rig.js';
import { runFlood } from '../tools/sim/flood.js';
import { summarizeProfile, type CpuProfile, type ProfileSummary } from './profile.js';

export interface ProfileRunOptions {
  readonly calls: number;
  /** Profiled steady state, s (after the calls are placed). */
  readonly seconds: number;
  readonly gapMs?: number;
  readonly rampPerSecond?: number;
}

export async function profileUnderLoad(opts: ProfileRunOptions): Promise<ProfileSummary & { calls: number }> {
  const rig = await startRig({ bridge: { pin: false }, load: { gapMs: opts.gapMs ?? 7000 } });
  const { bridge, load } = rig;
  try {
    await load.add(opts.calls, opts.rampPerSecond ?? 100);
    await sleep(3000);
    const profile = (await bridge.profile(opts.seconds)) as CpuProfile;
    return { ...summarizeProfile(profile), calls: load.live };
  } finally {
    await rig.close();
  }
}

/** A CPU profile of the bridge while anonymous upgrade attempts pour in (no calls): the refusal path. */
export async function profileUnderFlood(opts: { readonly seconds: number; readonly ips: number; readonly concurrency: number }): Promise<ProfileSummary> {
  const standIn = await startRealtimeStandIn();
  const bridge = await startBenchBridge({ realtimeUrl: standIn.url, pin: false });
  try {
    const profiling = bridge.profile(opts.seconds);
    await runFlood({ target: new URL(bridge.baseUrl), ips: opts.ips, seconds: opts.seconds + 1, concurrency: opts.concurrency });
    return summarizeProfile((await profiling) as CpuProfile);
  } finally {
    await bridge.stop();
    await standIn.close();
  }
}

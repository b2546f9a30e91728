/**
 * The rig every load benchmark stands up: one shared ticker, the Realtime stand-in, the bridge
 * in its own (pinned) process wired to it, and the simulated callers. `close()` takes it all
 * down in the reverse order, so no benchmark can forget a piece.
 */
import { PhaseTicker } from '../tools/sim/ticker.js';
import { startRealtimeStandIn, type RealtimeStandIn, type StandInOptions } from '../tools/sim/realtime-stand-in.js';
import { startBenchBridge, type BenchBridge, type StartBenchBridgeOptions } from './harness.js';
import { Load, type LoadOptions } from './load.js';

export interface RigOptions {
  readonly standIn?: Omit<StandInOptions, 'ticker'>;
  readonly bridge?: Omit<StartBenchBridgeOptions, 'realtimeUrl'>;
  readonly load: Omit<LoadOptions, 'baseUrl' | 'authToken' | 'ticker'>;
}

export interface Rig {
  readonly ticker: PhaseTicker;
  readonly standIn: RealtimeStandIn;
  readonly bridge: BenchBridge;
  readonly load: Load;
  /** Hangs every call up, then stops the bridge, the stand-in and the ticker. */
  close(): Promise<void>;
}

export async function startRig(opts: RigOptions): Promise<Rig> {
  const ticker = new PhaseTicker();
  const standIn = await startRealtimeStandIn({ ...opts.standIn, ticker });
  const bridge = await startBenchBridge({ ...opts.bridge, realtimeUrl: standIn.url });
  const load = new Load({ ...opts.load, baseUrl: bridge.baseUrl, authToken: bridge.authToken, ticker });
  return {
    ticker,
    standIn,
    bridge,
    load,
    async close() {
      await load.hangUpAll();
      load.close();
      await bridge.stop();
      await standIn.close();
      ticker.stop();
    },
  };
}

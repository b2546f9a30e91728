/**
 * The real bridge app in this process, on 127.0.0.1, configured from the defaults plus generated
 * secrets and a loopback PUBLIC_URL, so a simulated Twilio can call it with no keys at all.
 */
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createMetrics } from '../../src/metrics.js';
import { freePort, localBridgeEnv } from './spawn-bridge.js';

export interface LocalBridge {
  readonly app: FastifyInstance;
  readonly config: Config;
  /** http://127.0.0.1:PORT, also PUBLIC_URL. */
  readonly baseUrl: string;
  readonly authToken: string;
  close(): Promise<void>;
}

export interface LocalBridgeOptions {
  readonly realtimeUrl: string;
  /** Extra variables (LOG_LEVEL, MAX_CALLS, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** Where the bridge's JSON log lines go. @default stdout */
  readonly logStream?: DestinationStream;
  /** Listen on this port (no retry when taken). @default a free one */
  readonly port?: number;
}

/** Attempts at binding a port picked by freePort() (another process may take it in between). */
const BIND_ATTEMPTS = 5;

export async function startLocalBridge(opts: LocalBridgeOptions): Promise<LocalBridge> {
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const env = { ...localBridgeEnv(port, opts.realtimeUrl), ...opts.env };
    const config = loadConfig(env);
    const app = await buildApp(config, { logStream: opts.logStream, metrics: createMetrics({ processDefaults: false }) });
    try {
      await app.listen({ host: '127.0.0.1', port });
    } catch (err) {
      await app.close();
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && opts.port === undefined && attempt < BIND_ATTEMPTS) continue;
      throw err;
    }
    return {
      app,
      config,
      baseUrl: `http://127.0.0.1:${port}`,
      authToken: config.twilioAuthToken ?? '',
      close: () => app.close(),
    };
  }
}

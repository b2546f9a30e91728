import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { buildApp, type AppDeps } from '../../src/app.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { createMetrics } from '../../src/metrics.js';
import { startFakeRealtime, type FakeRealtime, type FakeRealtimeOptions } from '../../tools/fakes/fake-realtime.js';
import { connectFakeTwilio, type FakeTwilioOptions } from '../../tools/fakes/fake-twilio.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { captureLogs, type LogCapture } from './log-capture.js';
import { TEST_OPENAI_KEY, TEST_SECRET, testConfig } from './config.js';
import { randomBytes } from 'node:crypto';
import type { Config } from '../../src/config.js';

export interface Bridge {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly realtime: FakeRealtime;
  readonly logs: LogCapture;
  readonly port: number;
  /** ws://127.0.0.1:PORT/twilio/stream/<token> */
  streamUrl(token: string): string;
  mint(callSid?: string): { callSid: string; token: string };
  /** A fake Twilio call with a freshly minted token (override anything). */
  call(opts?: Partial<FakeTwilioOptions>): Promise<FakeTwilioCall>;
  close(): Promise<void>;
}

/** The real app on 127.0.0.1:0 with a fake Realtime upstream; everything closed by close(). */
export async function startBridge(
  env: Record<string, string | undefined> = {},
  opts: { realtime?: FakeRealtimeOptions; deps?: Partial<AppDeps> } = {},
): Promise<Bridge> {
  const realtime = await startFakeRealtime({ apiKey: TEST_OPENAI_KEY, ...opts.realtime });
  const config = testConfig({ OPENAI_REALTIME_URL: realtime.url, PUBLIC_URL: 'https://voice.example.com', ...env });
  const logs = captureLogs(config);
  const app = await buildApp(config, {
    logger: logs.logger,
    metrics: createMetrics({ processDefaults: false }),
    ...opts.deps,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const calls: FakeTwilioCall[] = [];
  let closing: Promise<void> | undefined;
  const streamUrl = (token: string) => `ws://127.0.0.1:${port}/twilio/stream/${token}`;
  const mint = (callSid = 'CA' + randomBytes(16).toString('hex')) => ({
    callSid,
    token: mintStreamToken(TEST_SECRET, callSid, Date.now(), config.streamTokenTtlSeconds),
  });
  return {
    app,
    config,
    realtime,
    logs,
    port,
    streamUrl,
    mint,
    async call(overrides = {}) {
      const { callSid, token } = mint(overrides.callSid);
      const call = await connectFakeTwilio({ url: streamUrl(token), token, callSid, ...overrides });
      calls.push(call);
      return call;
    },
    /** Closes once, however often it is called (a test may close early what its teardown closes too). */
    close() {
      closing ??= (async () => {
        // A test that failed half-way may leave a paused or open caller: cut it, don't wait 30 s.
        for (const call of calls) call.socket.terminate();
        await app.close();
        await realtime.close();
      })();
      return closing;
    },
  };
}

/**
 * The built server run as users run it with WORKERS=2 (dist/server.js: a primary and two
 * workers, real processes on one ephemeral port) in front of one Realtime stand-in, for the tests
 * that prove the workers behave as one server. Which worker did what is read from the `worker`
 * field of their log lines; their PIDs from the primary's "worker started" lines.
 */
import { randomBytes } from 'node:crypto';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { startNpmStart, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { startFakeRealtime, type FakeRealtime } from '../../tools/fakes/fake-realtime.js';
import { connectFakeTwilio, UpgradeRejectedError } from '../../tools/fakes/fake-twilio.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { TEST_OPENAI_KEY, TEST_SECRET, testEnv } from '../helpers/config.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';

export type LogRecord = Record<string, unknown>;

export interface Cluster {
  readonly server: ServerProcess;
  readonly realtime: FakeRealtime;
  /** Every JSON log line so far. */
  records(): LogRecord[];
  /** Worker number → PID of the worker started last in that place. */
  workerPids(): Map<number, number>;
  /** The worker whose log says it started this call's stream. */
  workerOf(callSid: string): number | undefined;
}

/** Real processes on a busy 2-core machine: three node processes start. */
export const CLUSTER_TIMEOUT_MS = 120_000;

export const isMsg = (msg: string) => (r: LogRecord) => r.msg === msg;

/** startCluster for each test of the calling file, with everything it opened closed after it. */
export function clusterPerTest(): {
  start: (env?: Record<string, string>, opts?: StartOptions) => Promise<Cluster>;
  calls: FakeTwilioCall[];
} {
  const track = closeAfterEach();
  const calls: FakeTwilioCall[] = [];
  return {
    calls,
    async start(env = {}, opts = {}) {
      const c = await startCluster(env, opts);
      track(async () => {
        await c.server.kill();
        // The primary was SIGKILLed, which node:cluster answers by ending its workers; make sure.
        for (const pid of c.workerPids().values()) killQuietly(pid);
        await c.realtime.close();
      });
      // Closed last opened first: the test's calls are cut before the cluster is killed.
      track(() => {
        for (const call of calls.splice(0)) call.socket.terminate();
      });
      return c;
    },
  };
}

export interface StartOptions {
  /** Through the real `npm start` (npm leads a process group), not `node dist/server.js`. */
  readonly npm?: boolean;
}

export async function startCluster(env: Record<string, string> = {}, opts: StartOptions = {}): Promise<Cluster> {
  const realtime = await startFakeRealtime({ apiKey: TEST_OPENAI_KEY });
  let server: ServerProcess | undefined;
  try {
    const fullEnv = testEnv({ OPENAI_REALTIME_URL: realtime.url, WORKERS: '2', DRAIN_TIMEOUT_SECONDS: '60', ...env });
    server = opts.npm ? await startNpmStart(fullEnv) : await startServerProcess(fullEnv);
    // Every worker listens before the primary logs its summary.
    await server.waitForLine(isMsg('voice-bridge started'), 60_000);
  } catch (err) {
    await server?.kill();
    await realtime.close();
    throw err;
  }
  const s = server;
  const records = (): LogRecord[] =>
    s.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as LogRecord];
      } catch {
        return [];
      }
    });
  return {
    server: s,
    realtime,
    records,
    workerPids() {
      const pids = new Map<number, number>();
      for (const r of records().filter(isMsg('worker started'))) pids.set(r.worker as number, r.pid as number);
      return pids;
    },
    workerOf(callSid) {
      const line = records().find((r) => r.msg === 'stream started' && r.callSid === callSid);
      return line?.worker as number | undefined;
    },
  };
}

export function newCallSid(): string {
  return 'CA' + randomBytes(16).toString('hex');
}

/** A Media Stream with a freshly minted token, as Twilio opens one after our TwiML. */
export async function placeCall(c: Cluster, calls: FakeTwilioCall[], callSid = newCallSid()): Promise<FakeTwilioCall & { callSid: string; token: string }> {
  const token = mintStreamToken(TEST_SECRET, callSid, Date.now(), 300);
  const call = await connectFakeTwilio({ url: `ws://127.0.0.1:${c.server.port}/twilio/stream/${token}`, token, callSid });
  calls.push(call);
  return Object.assign(call, { callSid, token });
}

/** An upgrade on a new connection; resolves with the status of its refusal (and its reason), or 101. */
export async function upgradeStatus(
  c: Cluster,
  calls: FakeTwilioCall[],
  token: string,
  callSid = 'CAanonymous',
): Promise<{ status: number; reason?: string }> {
  try {
    const call = await connectFakeTwilio({ url: `ws://127.0.0.1:${c.server.port}/twilio/stream/${token}`, token, callSid, autoStart: false });
    calls.push(call);
    return { status: 101 };
  } catch (err) {
    if (!(err instanceof UpgradeRejectedError)) throw err;
    const reason = (JSON.parse(err.body || '{}') as { reason?: string }).reason;
    return reason === undefined ? { status: err.statusCode } : { status: err.statusCode, reason };
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The /metrics text, from whichever worker gets the connection. */
export async function scrape(c: Cluster): Promise<string> {
  const res = await fetch(`${c.server.baseUrl}/metrics`, { headers: { connection: 'close' } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/**
 * `npm start` as users and supervisors run it: a real npm, the real package.json script, the
 * built server, real signals. npm runs the script through `sh -c`; the script execs node, so a
 * signal sent to npm's PID (kill, pm2, Docker with `npm start` as CMD) is forwarded by npm to
 * node itself and drains exactly like one sent to node (test/ops/drain.test.ts). Before, the
 * shell took the signal and died, npm followed, and node was orphaned, never drained.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startNpmStart, type ServerProcess } from '../helpers/server-process.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { startFakeRealtime, type FakeRealtime } from '../../tools/fakes/fake-realtime.js';
import { connectFakeTwilio } from '../../tools/fakes/fake-twilio.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { TEST_OPENAI_KEY, TEST_SECRET, testEnv } from '../helpers/config.js';
import { readFixture } from '../../tools/fakes/audio.js';
import { expectRelayBothWays } from '../helpers/relay.js';
import { until } from '../helpers/until.js';
import { mintStreamToken } from '../../src/twilio/stream-token.js';
import { SIGNAL_ECHO_MS } from '../../src/ops/shutdown-policy.js';
import { isAlive, isListening, processGroup, type ProcInfo } from './process-tree.js';

const PUBLIC_URL = 'https://voice.example.com';
/** Real processes on a busy 2-core machine: npm alone takes a second or more to start. */
const TIMEOUT_MS = 90_000;

// A server is closed by SIGKILL to npm's whole process group, node included.
const track = closeAfterEach();

async function start(env: Record<string, string> = {}): Promise<{ s: ServerProcess; npm: ProcInfo; node: ProcInfo; realtime: FakeRealtime }> {
  const realtime = track(await startFakeRealtime({ apiKey: TEST_OPENAI_KEY }));
  const s = track(await startNpmStart(testEnv({ OPENAI_REALTIME_URL: realtime.url, PUBLIC_URL, ...env })));
  // The tree under npm is npm and node, node's parent being npm: the script's shell replaced
  // itself with node (exec), so there is no `sh` in between to swallow a forwarded signal.
  const group = processGroup(s.child.pid!);
  const npm = group.find((p) => p.pid === s.child.pid);
  const node = group.find((p) => p.pid !== s.child.pid);
  expect(group.map((p) => p.cmdline).sort(), JSON.stringify(group)).toEqual(['node dist/server.js', 'npm start']);
  expect(node!.ppid).toBe(npm!.pid);
  return { s, npm: npm!, node: node!, realtime };
}

async function placeCall(s: ServerProcess): Promise<FakeTwilioCall> {
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const token = mintStreamToken(TEST_SECRET, callSid, Date.now(), 300);
  const call = await connectFakeTwilio({ url: `ws://127.0.0.1:${s.port}/twilio/stream/${token}`, token, callSid });
  track(() => call.socket.terminate()); // cut, not closed: a failed test must not wait for a close handshake
  return call;
}

const isMsg = (msg: string) => (r: Record<string, unknown>) => r.msg === msg;
const records = (s: ServerProcess) =>
  s.lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return []; // npm's own "> voice-bridge@… start" banner
    }
  });

/** npm's exit (its output read to the end), failing with what is left if that takes too long. */
async function exitOf(s: ServerProcess, timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`npm start did not end within ${timeoutMs} ms; left: ${JSON.stringify(processGroup(s.child.pid!))}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([s.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Proves the whole tree is gone and the port is free once npm has exited. */
async function expectNothingLeft(s: ServerProcess, node: ProcInfo): Promise<void> {
  expect(processGroup(s.child.pid!)).toEqual([]);
  expect(isAlive(node.pid)).toBe(false);
  expect(await isListening(s.port)).toBe(false);
}

describe('npm start', { timeout: TIMEOUT_MS }, () => {
  it('runs what the install built: no compile before start, call, demo, simulate or bench', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const { scripts } = pkg;
    expect(scripts.start).toBe('exec node dist/server.js');
    // `npm ci` (and `npm install`) run `prepare`: the one place the build happens on a clone.
    expect(scripts.prepare).toBe('npm run build && npm run build:tools');
    expect(scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(scripts['build:tools']).toBe('tsc -p tsconfig.tools.json');
    for (const name of ['start', 'call', 'demo', 'simulate', 'bench']) {
      expect(scripts[`pre${name}`], `pre${name}`).toBeUndefined();
      expect(scripts[name], name).not.toMatch(/tsc|build/);
      // Each runs a file the build emits: dist/X.js from src/X.ts, dist/dev/X.js from X.ts.
      const target = /node (dist\/\S+\.js)/.exec(scripts[name]!)?.[1];
      expect(target, name).toBeDefined();
      const source = target!.startsWith('dist/dev/')
        ? target!.replace(/^dist\/dev\//, '').replace(/\.js$/, '.ts')
        : target!.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
      expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
    }
  });

  it('kill -TERM <npm pid>: the live call streams on byte-exact, /readyz 503, then npm and node exit 0 and nothing listens', async () => {
    const { s, npm, node, realtime } = await start({ DRAIN_TIMEOUT_SECONDS: '60' });
    const caller = readFixture('caller-8k.ulaw').subarray(0, 4000); // 0.5 s
    const agent = readFixture('agent-8k.ulaw').subarray(0, 8000); // 1 s

    expect((await fetch(`${s.baseUrl}/readyz`)).status).toBe(200);
    const call = await placeCall(s);
    const conn = await realtime.waitForConnection();
    await realtime.waitForEvent('session.update');

    process.kill(npm.pid, 'SIGTERM'); // npm's PID, not node's
    await s.waitForLine(isMsg('draining: no new calls; waiting for live calls to end'));
    const ready = await fetch(`${s.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining', liveCalls: 1 });

    // npm did not exit on the signal: it waits for node, which keeps the call going.
    await expectRelayBothWays(call, conn, caller, agent);
    expect(s.child.exitCode).toBeNull();
    expect(processGroup(npm.pid).map((p) => p.pid).sort()).toEqual([npm.pid, node.pid].sort());

    expect((await call.hangUp()).code).toBe(1000);
    expect(await exitOf(s)).toEqual({ code: 0, signal: null });
    await expectNothingLeft(s, node);

    const logged = records(s);
    expect(logged.filter(isMsg('shutdown signal received'))).toHaveLength(1);
    expect(logged.find(isMsg('drain finished'))).toMatchObject({ outcome: 'idle', liveAtStart: 1, closedAtDeadline: 0 });
    expect(logged.find(isMsg('closed; exiting'))).toBeDefined();
    expect(logged.filter((r) => typeof r.level === 'number' && r.level >= 50)).toEqual([]);
  });

  it('a SIGTERM to the whole group (node directly and npm forwarding it) drains once; a later SIGTERM to npm exits at once', async () => {
    const { s, npm, node, realtime } = await start({ DRAIN_TIMEOUT_SECONDS: '600' });
    const call = await placeCall(s);
    const conn = await realtime.waitForConnection();
    await realtime.waitForEvent('session.update');

    // What Ctrl-C in a terminal, `kill -TERM -<pgid>` or a supervisor's group kill does: node
    // gets the signal twice within milliseconds (its own, then npm's copy): one drain, no exit.
    process.kill(-npm.pid, 'SIGTERM');
    const firstAt = performance.now();
    await s.waitForLine(isMsg('draining: no new calls; waiting for live calls to end'));
    await expectRelayBothWays(call, conn, readFixture('caller-8k.ulaw').subarray(0, 4000), readFixture('agent-8k.ulaw').subarray(0, 8000));
    expect(call.isOpen).toBe(true);
    expect(s.child.exitCode).toBeNull();
    expect(records(s).filter(isMsg('second shutdown signal: exiting now'))).toEqual([]);

    // A deliberate second signal, later than the echo window, ends it at once with 128 + 15.
    // (This wait is the policy's own time window, not a guess at how long something takes.)
    await until(() => performance.now() - firstAt > SIGNAL_ECHO_MS + 100, SIGNAL_ECHO_MS + 5_000, 'the echo window to pass');
    process.kill(npm.pid, 'SIGTERM');
    await s.waitForLine(isMsg('second shutdown signal: exiting now'));
    expect(await exitOf(s)).toEqual({ code: 143, signal: null });
    expect((await call.closed).code).toBe(1006); // cut, not closed: that is what "at once" means
    await expectNothingLeft(s, node);
  });

  it('SIGINT to npm with no call live: exits 0 at once', async () => {
    const { s, npm, node } = await start({ DRAIN_TIMEOUT_SECONDS: '600' });
    process.kill(npm.pid, 'SIGINT');
    expect(await exitOf(s)).toEqual({ code: 0, signal: null });
    await expectNothingLeft(s, node);
    expect(records(s).find(isMsg('drain finished'))).toMatchObject({ outcome: 'idle', liveAtStart: 0 });
  });
});

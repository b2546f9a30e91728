/**
 * Two real server processes (dist/server.js), each with its own Realtime stand-in so a call's
 * upstream tells where it landed, for the tests that run them behind one real Caddy on
 * deploy/Caddyfile.two-instances (rolling-restart.test.ts, instance-routing.test.ts).
 */
import { request } from 'node:http';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { startFakeRealtime, type FakeRealtime } from '../../tools/fakes/fake-realtime.js';
import { TEST_OPENAI_KEY, testEnv } from '../helpers/config.js';
import { signedWebhook } from '../helpers/webhook.js';
import type { FakeTwilioCall } from '../../tools/fakes/fake-twilio-call.js';
import { CADDYFILE_TWO_INSTANCES, startCaddy, type CaddyProcess } from './caddy-process.js';

export const PUBLIC_URL = 'https://voice.example.com';

export interface Instance {
  readonly name: string;
  readonly server: ServerProcess;
  readonly realtime: FakeRealtime;
}

/** Starts one instance on `port` (0: any) with the test environment plus `env`. */
export async function startInstance(name: string, env: Record<string, string> = {}, port = 0): Promise<Instance> {
  const realtime = await startFakeRealtime({ apiKey: TEST_OPENAI_KEY });
  try {
    const server = await startServerProcess(
      testEnv({
        OPENAI_REALTIME_URL: realtime.url,
        PUBLIC_URL,
        PORT: String(port),
        DRAIN_TIMEOUT_SECONDS: '60',
        // Every request here comes from one address (Caddy's, 127.0.0.1): the per-address flood
        // rule is not what these tests are about, and must not ban Caddy's health checks midway.
        FLOOD_MAX_REQUESTS: '100000',
        ...env,
      }),
    );
    return { name, server, realtime };
  } catch (err) {
    await realtime.close();
    throw err;
  }
}

/** Kills the process (if still running) and closes its Realtime stand-in. */
export async function stopInstance(i: Instance): Promise<void> {
  await i.server.kill();
  await i.realtime.close();
}

/**
 * What one two-instance test started, stopped by its afterEach even when the test failed
 * half-way: calls cut, Caddy stopped, instances stopped with their stand-ins.
 */
export class TwoInstanceRig {
  readonly instances: Instance[] = [];
  readonly calls: FakeTwilioCall[] = [];
  caddy: CaddyProcess | undefined;

  /** Caddy on deploy/Caddyfile.two-instances as shipped, in front of `a` and `b`. */
  async startCaddy(a: Instance, b: Instance, version: [number, number, number]): Promise<CaddyProcess> {
    this.caddy = await startCaddy({
      config: CADDYFILE_TWO_INSTANCES,
      env: { UPSTREAM_A: `127.0.0.1:${a.server.port}`, UPSTREAM_B: `127.0.0.1:${b.server.port}` },
      version,
    });
    return this.caddy;
  }

  async stop(): Promise<void> {
    for (const call of this.calls.splice(0)) call.socket.terminate();
    await this.caddy?.stop();
    this.caddy = undefined;
    for (const i of this.instances.splice(0)) await stopInstance(i);
  }
}

/** A signed Twilio voice webhook for `callSid`, POSTed through Caddy as Twilio sends it. */
export function webhookViaCaddy(caddyPort: number, callSid: string): Promise<{ status: number; twiml: string }> {
  const { headers, body } = signedWebhook('/twilio/voice', { CallSid: callSid, From: '+15550004444' }, { publicUrl: PUBLIC_URL });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: caddyPort, method: 'POST', path: '/twilio/voice', headers, agent: false }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (chunk: string) => (text += chunk));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, twiml: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The instance's /metrics text, read directly (Caddy does not expose it). */
export async function scrape(i: Instance): Promise<string> {
  const res = await fetch(`${i.server.baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics of ${i.name} answered ${res.status}`);
  return res.text();
}

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { runCallCommand, type CliIo } from '../../src/cli/call.js';
import { startBridge } from '../helpers/bridge.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { TEST_AUTH_TOKEN } from '../helpers/config.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';

const ACCOUNT_SID = 'AC' + '4'.repeat(32);
const API_TOKEN = 'cli-api-token-for-tests-0123456789';

const track = closeAfterEach();

function io(): CliIo & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l), fetch };
}

async function setUp(): Promise<{ env: Record<string, string>; rest: FakeTwilioRest }> {
  const rest = track(await startFakeTwilioRest({ accountSid: ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }));
  const bridge = track(
    await startBridge({
      API_TOKEN,
      TWILIO_ACCOUNT_SID: ACCOUNT_SID,
      TWILIO_PHONE_NUMBER: '+15550001111',
      TWILIO_API_BASE_URL: rest.url,
    }),
  );
  return { env: { API_TOKEN, PORT: String(bridge.port) }, rest };
}

describe('npm run call', () => {
  it('places the call through POST /calls and prints the CallSid', async () => {
    const { env, rest } = await setUp();
    const cli = io();
    const code = await runCallCommand(['+15557654321', '--greeting', 'Hello from the shell.'], env, cli);
    expect(code).toBe(0);
    expect(cli.outLines).toHaveLength(1);
    expect(cli.outLines[0]).toMatch(/^CA[0-9a-f]{32}$/);
    expect(rest.requests).toHaveLength(1);
    expect(rest.requests[0]!.form).toMatchObject({ To: '+15557654321', From: '+15550001111' });
    expect(rest.requests[0]!.callSid).toBe(cli.outLines[0]);
  });

  it('passes --assistant and --instructions to POST /calls, which judges them (an unknown profile: 400, exit 1)', async () => {
    const { env, rest } = await setUp();
    const unknown = io();
    expect(await runCallCommand(['+15557654321', '--assistant', 'salse'], env, unknown)).toBe(1);
    expect(unknown.errLines.join('\n')).toContain('"assistant" names no configured assistant');
    expect(rest.requests).toHaveLength(0);
    const known = io();
    expect(await runCallCommand(['+15557654321', '--assistant', 'default', '--instructions', 'Remind Ana of her visit.'], env, known)).toBe(0);
    expect(rest.requests).toHaveLength(1);
    expect(await runCallCommand(['+15557654321', '--assistant'], env, io())).toBe(2);
  });

  it('reports a call Twilio accepted with an unreadable reply as placed (exit 0, nothing on stdout)', async () => {
    const { env, rest } = await setUp();
    rest.misbehaveNext({ kind: 'raw', status: 201, body: 'null' });
    const cli = io();
    expect(await runCallCommand(['+15557654321'], env, cli)).toBe(0);
    expect(cli.outLines).toEqual([]);
    expect(cli.errLines).toEqual([
      'calling +15557654321: placed, CallSid unknown (Twilio accepted the call but its reply could not be read); do not retry',
    ]);
    expect(rest.requests).toHaveLength(1);
  });

  it("reports Twilio's refusal with its code, and exits 1", async () => {
    const { env, rest } = await setUp();
    rest.failNext({ status: 400, code: 21215, message: 'Geo permission configuration is not permitting call' });
    const cli = io();
    expect(await runCallCommand(['+15557654321'], env, cli)).toBe(1);
    expect(cli.outLines).toEqual([]);
    expect(cli.errLines.join('\n')).toContain('HTTP 502, Twilio error 21215: Geo permission configuration is not permitting call');
  });

  it('refuses bad usage with exit 2 and sends nothing', async () => {
    const { env, rest } = await setUp();
    for (const argv of [[], ['5557654321'], ['+15557654321', '--greeting'], ['+15557654321', '--bogus'], ['+15557654321', '+15550000000']]) {
      const cli = io();
      expect(await runCallCommand(argv, env, cli)).toBe(2);
      expect(cli.errLines[0]).toMatch(/^error: /);
    }
    const noToken = io();
    expect(await runCallCommand(['+15557654321'], { PORT: env.PORT! }, noToken)).toBe(2);
    expect(noToken.errLines[0]).toContain('API_TOKEN is not set');
    expect(rest.requests).toHaveLength(0);
  });

  it('says so when the server is not running', async () => {
    const cli = io();
    const code = await runCallCommand(['+15557654321', '--server', 'http://127.0.0.1:1'], { API_TOKEN }, cli);
    expect(code).toBe(1);
    expect(cli.errLines[0]).toContain('cannot reach the voice bridge at http://127.0.0.1:1');
  });

  it.skipIf(!existsSync('dist/cli/call.js'))('runs as the built dist/cli/call.js (what the npm script runs)', async () => {
    const { env } = await setUp();
    const { stdout } = await promisify(execFile)(process.execPath, ['dist/cli/call.js', '+15557654321'], {
      env: { PATH: process.env.PATH, ...env },
      timeout: 10_000,
    });
    expect(stdout.trim()).toMatch(/^CA[0-9a-f]{32}$/);
  });
});

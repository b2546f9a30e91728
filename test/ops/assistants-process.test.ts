/**
 * ASSISTANTS_FILE in the real server process (dist/server.js, built by `npm test`): a bad file
 * stops the start with exit 1 and the named problems; SIGHUP reloads it, refusing a bad one while
 * the server goes on with the profiles it has.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SERVER_JS, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { testEnv } from '../helpers/config.js';
import { signedWebhook } from '../helpers/webhook.js';
import { useTempFiles } from '../assistants/files.js';
import { RELOAD_REFUSED_MSG, RELOADED_MSG } from '../../src/ops/reload-assistants.js';

/** Real processes on a busy 2-core machine. */
const TIMEOUT_MS = 60_000;

const temp = useTempFiles();
let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.kill();
  server = undefined;
});

const file = (salesInstructions: string) => ({
  default: 'desk',
  assistants: { desk: { instructions: 'Desk.' }, sales: { instructions: salesInstructions, voice: 'cedar' } },
  numbers: { '+15005550006': 'sales' },
});

/** The profile name in the stream TwiML the server answers a call to `to` with. */
async function assistantFor(s: ServerProcess, to: string, callSid: string): Promise<string | undefined> {
  const res = await fetch(`${s.baseUrl}/twilio/voice`, { method: 'POST', ...signedWebhook('/twilio/voice', { CallSid: callSid, To: to }) });
  expect(res.status).toBe(200);
  return /<Parameter name="assistant" value="([^"]+)"\/>/.exec(await res.text())?.[1];
}

describe('ASSISTANTS_FILE in the server process', () => {
  it('a bad file stops the start: exit 1, every problem named by its JSON path on stderr', () => {
    const t = temp();
    const bad = t.write('assistants.json', {
      default: 'desk',
      assistants: { desk: { instructions: 'Desk.', tools: ['end_call', 'fax'] } },
      numbers: { '+15005550006': 'sales' },
    });
    const run = (path: string) =>
      spawnSync(process.execPath, [SERVER_JS], {
        cwd: fileURLToPath(new URL('../fixtures/', import.meta.url)),
        env: { PATH: process.env.PATH, ...testEnv({ ASSISTANTS_FILE: path, PORT: '0', HOST: '127.0.0.1' }) } as NodeJS.ProcessEnv,
        encoding: 'utf8',
        timeout: 20_000,
      });
    const result = run(bad);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'Invalid assistants file (2 problems):\n' +
        '  - assistants.desk.tools[1]: unknown tool "fax" (the bridge has: end_call, transfer_call)\n' +
        '  - numbers["+15005550006"]: maps to missing profile "sales"\n' +
        'See docs/assistants.md.\n',
    );
    expect(result.stdout).not.toContain('Server listening');

    const missing = run(`${t.dir}/nowhere.json`);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`ASSISTANTS_FILE: cannot read ${t.dir}/nowhere.json (no such file)`);
  }, TIMEOUT_MS);

  it('SIGHUP reloads it: new calls get the new profiles; a bad file is refused and the server goes on', async () => {
    const path = temp().write('assistants.json', file('Sell.'));
    server = await startServerProcess(testEnv({ ASSISTANTS_FILE: path, PREWARM: 'off' }));
    const summary = await server.waitForLine((r) => r.msg === 'voice-bridge started');
    expect(summary.assistants).toMatchObject({ file: path, default: 'desk', numbers: 1, profiles: { desk: {}, sales: { voice: 'cedar' } } });
    expect(await assistantFor(server, '+15005550006', 'CA' + '1'.repeat(32))).toBe('sales');

    // The sales line moves to a new profile.
    writeFileSync(path, JSON.stringify({ ...file('Sell.'), assistants: { ...file('Sell.').assistants, night: { instructions: 'Night.' } }, numbers: { '+15005550006': 'night' } }));
    server.child.kill('SIGHUP');
    const reloaded = await server.waitForLine((r) => r.msg === RELOADED_MSG);
    expect(reloaded).toMatchObject({ level: 30, assistants: ['desk', 'sales', 'night'], numbers: 1 });
    expect(await assistantFor(server, '+15005550006', 'CA' + '2'.repeat(32))).toBe('night');

    writeFileSync(path, '{"default": "desk", "assistants": {');
    server.child.kill('SIGHUP');
    const refused = await server.waitForLine((r) => r.msg === RELOAD_REFUSED_MSG);
    expect(refused).toMatchObject({ level: 50, file: path, problems: [expect.stringContaining(`ASSISTANTS_FILE: ${path} is not JSON`)] });
    expect(await assistantFor(server, '+15005550006', 'CA' + '3'.repeat(32))).toBe('night');
    expect(server.child.exitCode).toBeNull();
  }, TIMEOUT_MS);
});

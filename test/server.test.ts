import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVER_JS, startServerProcess, type ServerProcess } from './helpers/server-process.js';
import { TEST_SECRET, testEnv } from './helpers/config.js';
import { signedWebhook } from './helpers/webhook.js';

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.kill();
  server = undefined;
});

describe('the server process', () => {
  it('listens on an ephemeral port and answers a signed webhook over real HTTP', async () => {
    server = await startServerProcess(testEnv({ NODE_ENV: 'production', PUBLIC_URL: 'https://voice.example.com' }));
    const params = { CallSid: 'CA' + 'e'.repeat(32), From: '+15550009999' };
    const res = await fetch(`${server.baseUrl}/twilio/voice`, { method: 'POST', ...signedWebhook('/twilio/voice', params) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toMatch(/<Connect><Stream url="wss:\/\/voice\.example\.com\/twilio\/stream\/[\w-]+"/);

    const unsigned = await fetch(`${server.baseUrl}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    expect(unsigned.status).toBe(403);
    expect(server.lines.join('\n')).not.toContain(TEST_SECRET);
  });

  it('warns at start-up when signature checks are off', async () => {
    server = await startServerProcess(testEnv({ TWILIO_AUTH_TOKEN: undefined, NODE_ENV: 'development' }));
    const warning = await server.waitForLine((r) => typeof r.msg === 'string' && r.msg.includes('signatures are NOT checked'));
    expect(warning.level).toBe(40);
  });

  it('exits 1 with one message naming every problem', () => {
    const result = spawnSync(process.execPath, [SERVER_JS], {
      cwd: fileURLToPath(new URL('./fixtures/', import.meta.url)),
      env: { PATH: process.env.PATH, STREAM_SECRET: 'short', PORT: 'abc' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid configuration (4 problems)');
    for (const name of ['PORT', 'PUBLIC_URL', 'STREAM_SECRET must be at least 32 characters', 'OPENAI_API_KEY']) {
      expect(result.stderr).toContain(name);
    }
  });
});

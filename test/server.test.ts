import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVER_JS, startServerProcess } from './helpers/server-process.js';
import { TEST_SECRET, testEnv } from './helpers/config.js';
import { signedWebhook } from './helpers/webhook.js';
import { createServer } from 'node:net';
import { closeAfterEach } from './helpers/close-after-each.js';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const track = closeAfterEach();

describe('the server process', () => {
  it('listens on an ephemeral port and answers a signed webhook over real HTTP', async () => {
    const server = track(await startServerProcess(testEnv({ NODE_ENV: 'production', PUBLIC_URL: 'https://voice.example.com' })));
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
    // The Twilio-settings line names exactly what is missing: the SID, not the token.
    const notice = await server.waitForLine((r) => typeof r.msg === 'string' && r.msg.includes('not set: no end_call'));
    expect(notice.msg).toBe('TWILIO_ACCOUNT_SID not set: no end_call/transfer_call tools');
  });

  it('without TWILIO_AUTH_TOKEN or HOST: listens on loopback only, and warns', async () => {
    const server = track(await startServerProcess(testEnv({ TWILIO_AUTH_TOKEN: undefined, NODE_ENV: 'development', HOST: undefined })));
    const warning = await server.waitForLine((r) => typeof r.msg === 'string' && r.msg.includes('signatures are NOT checked'));
    expect(warning.level).toBe(40);
    expect(warning.msg).toContain('listening on 127.0.0.1 only');
    const summary = await server.waitForLine((r) => r.msg === 'voice-bridge started');
    expect(summary).toMatchObject({ level: 30, listening: `http://127.0.0.1:${server.port}`, signatures: 'off' });
  });

  it('without TWILIO_AUTH_TOKEN and with HOST=0.0.0.0 set: says loudly that anyone can open paid sessions', async () => {
    const server = track(await startServerProcess(testEnv({ TWILIO_AUTH_TOKEN: undefined, NODE_ENV: 'development', HOST: '0.0.0.0' })));
    const warning = await server.waitForLine((r) => typeof r.msg === 'string' && r.msg.includes('signatures are NOT checked'));
    expect(warning).toMatchObject({ level: 50, msg: expect.stringContaining('HOST=0.0.0.0 was set explicitly') });
    expect(warning.msg).toContain('anyone who can reach port 0 can open paid Realtime sessions unsigned');
    const summary = await server.waitForLine((r) => r.msg === 'voice-bridge started');
    expect(summary.listening).toBe(`http://0.0.0.0:${server.port}`);
  });

  it('logs one start-up summary, and an unreachable Redis at once with its host, port and cause', async () => {
    const redisPort = await closedPort();
    const server = track(
      await startServerProcess(
        testEnv({
          REDIS_URL: `redis://:redis-password-never-logged@127.0.0.1:${redisPort}/0`,
          TWILIO_ACCOUNT_SID: 'AC' + '3'.repeat(32),
          TRANSFER_NUMBER: '+15557654321',
          API_TOKEN: 'server-test-api-token-0123456789',
          DRAIN_TIMEOUT_SECONDS: '42',
        }),
      ),
    );
    const summary = await server.waitForLine((r) => r.msg === 'voice-bridge started');
    expect(summary).toEqual({
      level: 30,
      time: expect.any(Number),
      service: 'voice-bridge',
      msg: 'voice-bridge started',
      listening: `http://127.0.0.1:${server.port}`,
      webhooks: {
        voice: 'https://voice.example.com/twilio/voice',
        outbound: 'https://voice.example.com/twilio/outbound',
        streamStatus: 'https://voice.example.com/twilio/stream-status',
        callStatus: 'https://voice.example.com/twilio/call-status',
      },
      streamUrl: 'wss://voice.example.com/twilio/stream/<token>',
      guardStore: `redis 127.0.0.1:${redisPort}`,
      signatures: 'on',
      assistants: {
        file: null,
        default: 'default',
        numbers: 0,
        profiles: { default: { model: 'gpt-realtime', voice: 'marin', tools: ['end_call', 'transfer_call'], priced: false } },
      },
      callsApi: 'on',
      transcriptsInLog: false,
      drainTimeoutSeconds: 42,
      logLevel: 'info',
    });
    expect(server.lines.filter((l) => l.includes('"voice-bridge started"'))).toHaveLength(1);

    // Reported before any request, naming where and why.
    const outage = await server.waitForLine((r) => r.msg === 'guard store unavailable: deciding from memory until it recovers');
    expect(outage).toMatchObject({ level: 40, op: 'connect', store: 'redis', host: '127.0.0.1', port: redisPort, reason: expect.stringContaining('ECONNREFUSED') });
    // The server decides from memory meanwhile, and says nothing more about it per request.
    const params = { CallSid: 'CA' + 'd'.repeat(32), From: '+15550009999' };
    const res = await fetch(`${server.baseUrl}/twilio/voice`, { method: 'POST', ...signedWebhook('/twilio/voice', params) });
    expect(res.status).toBe(200);
    const all = server.lines.join('\n');
    expect(all).not.toContain("Stream isn't writeable");
    expect(all).not.toContain('redis-password-never-logged');
    expect(server.lines.filter((l) => l.includes('guard store unavailable'))).toHaveLength(1);
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

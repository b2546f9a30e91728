/**
 * The console's routes and POST /calls/browser on the real app (buildApp, 127.0.0.1, the guard in
 * front with a fake wall clock), over real sockets:
 * - the page and its files: security headers on every answer, exact names only, revalidation;
 *   nothing at all while API_TOKEN is unset;
 * - the guard: loading the page again and again is not a flood (its files have their own budget),
 *   while the page itself still counts and is refused under a ban;
 * - POST /calls/browser: auth as POST /calls, a CallSid and token as the voice webhook mints, and
 *   the browser's stream upgrade (an Origin, no Twilio signature) admitted on that token alone;
 *   nothing weaker is.
 */
import { describe, expect, it } from 'vitest';
import { CONSOLE_ASSET_BUDGET } from '../../src/guard/install.js';
import { consoleDirectory, loadConsoleFiles } from '../../src/console/static-files.js';
import { until } from '../helpers/until.js';
import { hangUp, harnessPerTest, httpCall, rejectionCounts, upgrade, type Harness } from '../guard/harness.js';

const API_TOKEN = 'console-route-test-token-0123456789';
const AUTH = { authorization: `Bearer ${API_TOKEN}` };
const harness = harnessPerTest();
const FILES = [...loadConsoleFiles(consoleDirectory()).keys()].filter((name) => name !== 'index.html');

/** What a browser fetches to show the console: the page, then every file under it. */
async function loadPage(h: Harness, from: string): Promise<number[]> {
  const statuses = [(await httpCall(h, 'GET', '/console/', { from })).status];
  for (const name of FILES) statuses.push((await httpCall(h, 'GET', `/console/${name}`, { from })).status);
  return statuses;
}

describe('GET /console/', () => {
  it('serves the page and its files with the security headers, by exact name only', async () => {
    const h = await harness({ env: { API_TOKEN } });
    const page = await httpCall(h, 'GET', '/console/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = page.headers['content-security-policy'] ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'", "object-src 'none'", "require-trusted-types-for 'script'"]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain('unsafe');
    // The softphone's stream URL is on PUBLIC_URL's host, which may not be the console's.
    expect(csp).toContain("connect-src 'self' wss://voice.example.com");
    expect(page.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY', 'cache-control': 'no-cache' });
    expect(String(page.body)).toContain('<script type="module" src="js/main.js"></script>');
    expect(String(page.body)).not.toMatch(/<script>|<style|\sstyle=|\son[a-z]+=/); // nothing inline

    expect(FILES).toEqual(expect.arrayContaining(['console.css', 'icon.svg', 'js/main.js', 'js/capture-worklet.js', 'js/playback-worklet.js', 'js/audio-codec.js']));
    expect(FILES.some((name) => name.endsWith('.ts'))).toBe(false); // the tests' type files stay home
    const script = await httpCall(h, 'GET', '/console/js/main.js');
    expect([script.status, script.headers['content-type'], script.headers['content-security-policy']]).toEqual([200, 'text/javascript; charset=utf-8', csp]);

    const again = await httpCall(h, 'GET', '/console/js/main.js', { headers: { 'if-none-match': String(script.headers.etag) } });
    expect(again.status).toBe(304);

    const redirect = await httpCall(h, 'GET', '/console');
    expect([redirect.status, redirect.headers.location, redirect.headers['content-security-policy']]).toEqual([308, '/console/', csp]);

    for (const path of ['/console/nope.js', '/console/index.html', '/console/js/audio-codec.d.ts', '/console/../package.json', '/console/%2e%2e/package.json', '/console/js/..%2f..%2fpackage.json']) {
      const missing = await httpCall(h, 'GET', path);
      expect(missing.status, path).toBe(404);
    }
    const missing = await httpCall(h, 'GET', '/console/nope.js');
    expect(missing.headers['content-security-policy']).toBe(csp);
  });

  it('does not exist while API_TOKEN is unset, like the API it reads', async () => {
    const h = await harness();
    expect((await httpCall(h, 'GET', '/console/')).status).toBe(404);
    expect((await httpCall(h, 'GET', '/console/js/main.js')).status).toBe(404);
    expect((await httpCall(h, 'POST', '/calls/browser', { headers: AUTH })).status).toBe(404);
  });
});

describe('the guard and the console', () => {
  it('loading the console five times in a row is no flood: its files count against their own budget', async () => {
    const h = await harness({ env: { API_TOKEN } });
    const from = '127.0.0.121';
    // Each load is 1 + FILES.length requests, all within the flood window (20 in 5 s).
    expect(5 * (1 + FILES.length)).toBeGreaterThan(20);
    for (let i = 0; i < 5; i++) expect(new Set(await loadPage(h, from))).toEqual(new Set([200]));
    expect((await httpCall(h, 'GET', '/probe', { from })).status).toBe(200);
    expect(await rejectionCounts(h.metrics)).toEqual({});
  });

  it('the page itself counts toward the flood rule and is refused under a ban; its files are bounded by their budget', async () => {
    const h = await harness({ env: { API_TOKEN } });
    const from = '127.0.0.122';
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await httpCall(h, 'GET', '/console/', { from })).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(200));
    expect(statuses[20]).toBe(403); // the 21st in the window: a flood
    expect((await httpCall(h, 'GET', '/console/', { from })).body).toMatchObject({ reason: 'banned' });

    const other = '127.0.0.123';
    const files: number[] = [];
    for (let i = 0; i <= CONSOLE_ASSET_BUDGET.burst; i++) files.push((await httpCall(h, 'GET', '/console/console.css', { from: other })).status);
    expect(files.slice(0, CONSOLE_ASSET_BUDGET.burst)).toEqual(Array(CONSOLE_ASSET_BUDGET.burst).fill(200));
    const over = await httpCall(h, 'GET', '/console/console.css', { from: other });
    expect([over.status, over.body, over.headers['retry-after']]).toEqual([429, { error: 'Too Many Requests', reason: 'asset_rate_limited' }, '1']);
    // No ban for it: the page still loads, and after a second files come back.
    expect((await httpCall(h, 'GET', '/console/', { from: other })).status).toBe(200);
    h.clock += 1_000;
    expect((await httpCall(h, 'GET', '/console/console.css', { from: other })).status).toBe(200);
  });
});

describe('POST /calls/browser', () => {
  it('needs the API token: 401 without it, 401 and a cooldown for a wrong one', async () => {
    const h = await harness({ env: { API_TOKEN } });
    const none = await httpCall(h, 'POST', '/calls/browser', { from: '127.0.0.131' });
    expect([none.status, (none.body as Record<string, unknown>).reason]).toEqual([401, 'missing_token']);
    const wrong = await httpCall(h, 'POST', '/calls/browser', { from: '127.0.0.131', headers: { authorization: `Bearer ${API_TOKEN}x` } });
    expect([wrong.status, (wrong.body as Record<string, unknown>).reason]).toEqual([401, 'bad_token']);
    expect(await rejectionCounts(h.metrics)).toEqual({ bad_api_token: 1 });
    expect((await httpCall(h, 'GET', '/console/', { from: '127.0.0.131' })).status).toBe(403);
  });

  it('mints a browser CallSid and a stream token; the browser\'s upgrade is admitted on the token alone, once', async () => {
    const h = await harness({ env: { API_TOKEN } });
    const answer = await httpCall(h, 'POST', '/calls/browser', { headers: AUTH });
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    const { callSid, streamUrl, token, expiresAt } = answer.body as { callSid: string; streamUrl: string; token: string; expiresAt: number };
    expect(callSid).toMatch(/^BR[0-9a-f]{32}$/);
    expect(streamUrl).toBe(`wss://voice.example.com/twilio/stream/${token}`);
    expect(expiresAt).toBe((Math.floor(h.clock / 1000) + h.config.streamTokenTtlSeconds) * 1000);
    // Each call its own CallSid.
    const second = (await httpCall(h, 'POST', '/calls/browser', { headers: AUTH })).body as { callSid: string };
    expect(second.callSid).not.toBe(callSid);

    // A browser: an Origin header, no X-Twilio-Signature (TWILIO_AUTH_TOKEN is set: signatures are checked when sent).
    const browser = { origin: 'https://console.example.org', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156' };
    const forged = await upgrade(h, `/twilio/stream/${token.slice(0, -2)}AA`, { from: '127.0.0.132', headers: browser });
    expect(forged.status).toBe(401);
    const admitted = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.133', headers: browser });
    expect(admitted.status).toBe(101);
    expect(h.accepted.map((a) => a.callSid)).toEqual([callSid]);
    const whileLive = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.133', headers: browser });
    expect([whileLive.status, whileLive.body?.reason]).toEqual([409, 'call_live']);
    await hangUp(admitted.ws);
    await until(() => h.registry.streams === 0, 5000, 'the stream slot released');
    const replay = await upgrade(h, `/twilio/stream/${token}`, { from: '127.0.0.133', headers: browser });
    expect([replay.status, replay.body?.reason]).toEqual([409, 'token_reused']);
  });

  it('answers 503 with the reason when no call can be served', async () => {
    const h = await harness({ env: { API_TOKEN } });
    h.registry.startDrain();
    const draining = await httpCall(h, 'POST', '/calls/browser', { headers: AUTH });
    expect([draining.status, (draining.body as Record<string, unknown>).reason]).toEqual([503, 'draining']);
  });
});

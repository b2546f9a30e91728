/**
 * The console and its softphone in a real browser: Debian's Chromium (headless, playwright-core),
 * its fake microphone playing the caller fixture once, against the real bridge (in this process,
 * on 127.0.0.1) with call records in SQLite and a recording fake of the Realtime API that this
 * test drives turn by turn.
 *
 * One call, end to end: the token asked once; "Talk to the assistant"; the call in the live list;
 * the fake receives appends whose loudness follows the fixture's speech and pauses; it answers and
 * the page plays the answer (samples counted in the page); speech_started (a barge-in) makes the
 * bridge send `clear` and the page's playback queue empties at once; hang up; the call in the
 * history with its transcript, where a transcript carrying markup is shown as text. Every
 * response of the console carries the CSP, and the page ran without a CSP violation or an error.
 *
 * CONSOLE_SCREENSHOTS=1 also writes docs/console-*.png (the README's pictures).
 */
import { until } from '../helpers/until.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Page } from 'playwright-core';
import { readFixture } from '../../tools/fakes/audio.js';
import { startFakeRealtime } from '../../tools/fakes/fake-realtime.js';
import { startLocalBridge } from '../../tools/sim/local-bridge.js';
import { AGENT_FIXTURE_WORDS } from '../../tools/sim/realtime-stand-in.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { launchChromium, writeMulawAsWav } from './chromium.js';
import { envelope, matchEnvelope } from './envelope.js';

const track = closeAfterEach();
const API_TOKEN = 'console-browser-test-token-0123456789';
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS === '1';
const DOCS = join(import.meta.dirname, '..', '..', 'docs');
/** What a caller says in this test's transcript: markup that must be shown, never run. */
const HOSTILE = 'Book a table <img src=x onerror="window.__pwned = 1"> for two';
const GREETING_WORDS = 'Hello! You are talking to the assistant. How can I help?';
/** A response's usage as the Realtime API reports it. */
const USAGE = {
  total_tokens: 212,
  input_tokens: 160,
  output_tokens: 52,
  input_token_details: { text_tokens: 120, audio_tokens: 40, cached_tokens: 64, cached_tokens_details: { text_tokens: 64, audio_tokens: 0 } },
  output_token_details: { text_tokens: 12, audio_tokens: 40 },
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vb-console-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The softphone's figures (its data-* attributes). */
async function phone(page: Page): Promise<Record<string, string>> {
  // Runs in the page: `el` is the element (typed loosely here: the tests compile without the DOM's types).
  return page.locator('#softphone').evaluate((el) => ({ ...(el as unknown as { dataset: Record<string, string> }).dataset }));
}

async function waitForPhone(page: Page, what: string, check: (f: Record<string, string>) => boolean, timeout = 15_000): Promise<Record<string, string>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const figures = await phone(page);
    if (check(figures)) return figures;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the softphone: ${what} (${JSON.stringify(figures)})`);
    await page.waitForTimeout(50);
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: join(DOCS, `console-${name}.png`), fullPage: true });
}

describe('the console and its softphone in Chromium', () => {
  it('call, hear, barge in, hang up, and read the call in the history', async () => {
    const caller = readFixture('caller-8k.ulaw');
    const agent = readFixture('agent-8k.ulaw');
    const wav = join(dir, 'caller.wav');
    writeMulawAsWav(caller, wav);

    const realtime = track(await startFakeRealtime());
    const bridgeLog: string[] = [];
    const bridge = track(
      await startLocalBridge({
        realtimeUrl: realtime.url,
        env: { API_TOKEN, CALL_RECORDS: 'on', CALLS_DB: join(dir, 'calls.db'), LOG_LEVEL: 'warn' },
        logStream: new Writable({
          write(chunk: Buffer, _encoding, done) {
            bridgeLog.push(...chunk.toString('utf8').split('\n').filter(Boolean));
            done();
          },
        }),
      }),
    );
    const browser = track(await launchChromium({ microphoneWav: wav }));
    const { page } = browser;
    const consoleUrl = `${bridge.baseUrl}/console/`;

    // Every answer of the console carries the policy (the page, its modules, its worklets).
    const policies = new Map<string, string | undefined>();
    page.on('response', (response) => {
      if (response.url().includes('/console')) policies.set(response.url(), response.headers()['content-security-policy']);
    });

    // The token, asked once.
    await page.goto(consoleUrl);
    await page.locator('#token').waitFor();
    await screenshot(page, 'token');
    await page.locator('#token').fill(API_TOKEN);
    await page.locator('#login-form button[type=submit]').click();
    await page.locator('#live-status', { hasText: 'in progress' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);
    expect(page.url()).not.toContain(API_TOKEN);

    // Talk to the assistant: the bridge opens the upstream for a call with direction browser.
    await page.locator('#talk').click();
    const upstream = await realtime.waitForConnection(0, 20_000);
    const live = await waitForPhone(page, 'live', (f) => f.state === 'live');
    const callSid = live.callSid ?? '';
    expect(callSid).toMatch(/^BR[0-9a-f]{32}$/);

    // A greeting: one second of audio, then its done events and a usage. The bridge follows the
    // audio with a mark; the page echoes it only once that second has played.
    const greeting = agent.subarray(0, 8000);
    const greeted = await upstream.sendAudio(greeting, { chunkBytes: 160, intervalMs: 20, itemId: 'item_greeting', responseId: 'resp_greeting', done: false });
    expect(greeted.status).toBe('completed');
    upstream.send({ type: 'response.output_audio.done', response_id: 'resp_greeting', item_id: 'item_greeting', output_index: 0, content_index: 0 });
    upstream.agentTranscript('resp_greeting', 'item_greeting', GREETING_WORDS);
    upstream.send({ type: 'response.done', response: { id: 'resp_greeting', object: 'realtime.response', status: 'completed', output: [], usage: USAGE } });
    const echoed = await waitForPhone(page, 'the greeting\'s mark echoed', (f) => Number(f.marksEchoed) >= 1);
    expect(Number(echoed.lastMarkPlayed)).toBeGreaterThanOrEqual(greeting.length);

    // The call shows in the live list (polled every 2 s).
    await page.locator(`#live-calls tr[data-call-sid="${callSid}"]`).waitFor({ timeout: 10_000 });
    expect(await page.locator(`#live-calls tr[data-call-sid="${callSid}"]`).textContent()).toContain('browser');
    await screenshot(page, 'live');

    // The caller's speech: the fixture plays once, then the microphone is quiet. Wait for it and
    // 1.5 s of what follows to reach the fake as appends, then compare loudness over time.
    const wantBytes = caller.length + 12_000;
    await until(() => upstream.appendedBytes >= wantBytes, 30_000, `${wantBytes} bytes of caller audio upstream`);
    const heard = envelope(upstream.appendedAudio());
    const said = envelope(caller);
    const match = matchEnvelope(said, heard, { speech: 150, quiet: 20, maxLag: 20 });
    expect(match.speechWindows).toBeGreaterThan(20);
    expect(match.speechHeard, JSON.stringify(match)).toBeGreaterThan(0.8);
    expect(match.quietKept, JSON.stringify(match)).toBeGreaterThan(0.8);

    // The model answers: a transcript of the caller's turn (with markup in it) and 6 s of audio.
    upstream.speechStopped('item_caller_1');
    upstream.userTranscript('item_caller_1', HOSTILE);
    const answer = upstream.sendAudio(agent, { chunkBytes: 160, intervalMs: 20, itemId: 'item_answer_1', responseId: 'resp_1' });
    const playing = await waitForPhone(page, 'one second of the answer played', (f) => Number(f.playedSamples) >= greeting.length + 8000 && Number(f.queuedSamples) > 0);
    expect(Number(playing.receivedBytes)).toBeGreaterThan(8000);

    // Barge-in: the caller talks over the answer. The bridge sends clear; playback empties at once.
    const truncate = upstream.waitForEvent('conversation.item.truncate', undefined, 10_000);
    upstream.speechStarted({ interrupt: true });
    const cleared = await waitForPhone(page, 'clear', (f) => Number(f.clears) >= 1 && Number(f.queuedSamples) === 0);
    expect((await answer).status).toBe('cancelled');
    const truncated = await truncate;
    expect(truncated.item_id).toBe('item_answer_1');
    // Cut at what the caller heard, not at what was generated (6 s): at least what the page played
    // of the answer (less one progress report, ~64 ms, and the send-to-play lag), at most what it
    // received. (A starved audio thread plays less than the bridge estimates; never more.)
    const answerHeardMs = (Number(cleared.playedSamples) - greeting.length) / 8;
    const answerReceivedMs = (Number(cleared.receivedBytes) - greeting.length) / 8;
    expect(answerHeardMs).toBeGreaterThan(900);
    expect(truncated.audio_end_ms).toBeGreaterThan(answerHeardMs - 300);
    expect(truncated.audio_end_ms).toBeLessThanOrEqual(answerReceivedMs);
    upstream.agentTranscript('resp_1', 'item_answer_1', AGENT_FIXTURE_WORDS);

    // Hang up: stop, close; the bridge ends the call and closes the upstream.
    await page.locator('#hang-up').click();
    await upstream.closed;
    await waitForPhone(page, 'ended', (f) => f.state === 'ended');

    // The history lists it (records are written within a second or so); its page shows the turns.
    await page.locator('nav a[href="#/history"]').click();
    const row = page.locator(`#history-calls tr[data-call-sid="${callSid}"]`);
    const deadline = Date.now() + 10_000;
    while ((await row.count()) === 0) {
      if (Date.now() > deadline) throw new Error('the call never showed in the history');
      await page.locator('form.search button[type=submit]').click();
      await page.waitForTimeout(200);
    }
    expect(await row.textContent()).toContain('twilio_stop');
    expect(await row.locator('td').nth(8).textContent()).toBe('4'); // greeting, caller, barge-in, answer
    await screenshot(page, 'history');
    await row.locator('a').click();
    const conversation = page.locator('#conversation');
    await conversation.waitFor();
    const turns = await conversation.locator('li').allTextContents();
    expect(turns.some((t) => t.includes(HOSTILE))).toBe(true); // the markup, as text
    expect(turns.some((t) => t.includes(AGENT_FIXTURE_WORDS))).toBe(true);
    expect(turns.some((t) => t.includes(GREETING_WORDS))).toBe(true);
    expect(turns.some((t) => t.includes('spoke over the assistant'))).toBe(true);
    expect(await conversation.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator('#call-summary').textContent()).toContain('browser');
    await screenshot(page, 'call');

    // The record, as the API has it.
    const record = (await (await fetch(`${bridge.baseUrl}/calls/${callSid}`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).json()) as Record<string, unknown>;
    expect(record).toMatchObject({ callSid, direction: 'browser', from: 'browser', to: null, endReason: 'twilio_stop' });
    expect(record.usage).toEqual({ responses: 1, input: { total: 160, text: 120, audio: 40, cached: 64 }, output: { total: 52, text: 12, audio: 40 } });

    // Strict CSP on every console answer; the page ran without a violation or an uncaught error.
    expect(policies.size).toBeGreaterThanOrEqual(8);
    for (const [url, policy] of policies) expect(policy, url).toContain("default-src 'none'");
    expect(browser.messages.filter((m) => /Content.Security.Policy|Trusted Type/i.test(m))).toEqual([]);
    expect(browser.errors).toEqual([]);
    // An ordinary call: no error lines from the bridge.
    expect(bridgeLog.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  }, 90_000);
});

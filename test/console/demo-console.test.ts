/**
 * `npm run demo -- --console`: what it starts works with no keys. The printed URL serves the
 * console, the printed token opens the API and the softphone's route, and a browser-direction call
 * (spoken here by the fake Twilio peer, as the softphone speaks it) hears the stand-in greet and
 * leaves a record with the greeting's words and its tokens, so the history shows a conversation.
 */
import { describe, expect, it } from 'vitest';
import { startConsoleDemo } from '../../tools/demo/console-mode.js';
import { connectFakeTwilio } from '../../tools/fakes/fake-twilio.js';
import { AGENT_FIXTURE_WORDS } from '../../tools/sim/realtime-stand-in.js';
import { closeAfterEach } from '../helpers/close-after-each.js';
import { until } from '../helpers/until.js';

const track = closeAfterEach();

describe('the demo\'s console mode', () => {
  it('prints a console URL and an API token that work, and the stand-in greets a browser call', async () => {
    const lines: string[] = [];
    const demo = track(await startConsoleDemo({ print: (line) => lines.push(line) }));
    const url = /open\s+(\S+)/.exec(lines.join('\n'))?.[1];
    const token = /API token\s+(\S+)/.exec(lines.join('\n'))?.[1];
    expect(url).toBe(demo.consoleUrl);
    expect(token).toBe(demo.apiToken);
    const auth = { authorization: `Bearer ${token}` };

    const page = await fetch(url!);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");

    const started = await fetch(`${demo.bridge.baseUrl}/calls/browser`, { method: 'POST', headers: auth });
    expect(started.status).toBe(200);
    const { callSid, streamUrl, token: streamToken } = (await started.json()) as { callSid: string; streamUrl: string; token: string };
    const call = track(await connectFakeTwilio({ url: streamUrl, callSid, token: streamToken, customParameters: { token: streamToken, direction: 'browser', caller: 'browser' } }));
    // GREETING: the stand-in answers with the agent fixture (6 s), then its words and its usage.
    await call.waitFor('media', undefined, 10_000);
    const listening = new AbortController();
    const streaming = call.streamAudio(Buffer.alloc(8000 * 30, 0xff), { signal: listening.signal });
    await until(() => demo.standIn.counts.sent['response.done'] === 1, 15_000, 'the greeting to end');
    listening.abort();
    await streaming;
    await call.hangUp();

    let record: Record<string, unknown> | undefined;
    await until(
      async () => {
        const answer = await fetch(`${demo.bridge.baseUrl}/calls/${callSid}`, { headers: auth });
        if (answer.status === 200) record = (await answer.json()) as Record<string, unknown>;
        return record !== undefined;
      },
      10_000,
      'the call\'s record',
    );
    expect(record).toMatchObject({ callSid, direction: 'browser', from: 'browser', to: null, endReason: 'twilio_stop' });
    expect(record?.turns).toEqual([expect.objectContaining({ kind: 'assistant', text: AGENT_FIXTURE_WORDS })]);
    expect((record?.usage as { responses: number; output: { audio: number } }).responses).toBe(1);
    expect((record?.usage as { output: { audio: number } }).output.audio).toBe(60); // 6 s at 10 tokens a second
  }, 40_000);
});

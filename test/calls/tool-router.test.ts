import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { createToolRouter, MAX_REFUSED_TOOL_CALLS_IN_A_ROW, MAX_TOOL_ARGUMENT_BYTES, parseArguments } from '../../src/calls/tools/router.js';
import { defineTool, waitForPlayout, type ToolResult, type ToolSession } from '../../src/calls/tools/tool.js';
import { faultBoundary } from '../../src/stream/fault-boundary.js';
import type { TwilioRest } from '../../src/calls/twilio-rest.js';
import { testConfig } from '../helpers/config.js';
import { until } from '../helpers/until.js';
import { LogBudget, LOG_LINES_PER_KIND } from '../../src/stream/log-budget.js';
import type { TurnInput } from '../../src/records/open-call.js';

describe('parseArguments', () => {
  it('accepts a JSON object text, and empty text as no arguments', () => {
    expect(parseArguments('{"reason":"bye"}')).toEqual({ ok: true, value: { reason: 'bye' } });
    expect(parseArguments('  ')).toEqual({ ok: true, value: {} });
    expect(parseArguments('')).toEqual({ ok: true, value: {} });
  });

  it('refuses missing, non-string, oversized, non-JSON and non-object arguments with a reason for the model', () => {
    const cases: [unknown, string][] = [
      [undefined, 'arguments are missing'],
      [null, 'arguments must be a JSON string'],
      [7, 'arguments must be a JSON string'],
      [{ reason: 'x' }, 'arguments must be a JSON string'],
      [['{}'], 'arguments must be a JSON string'],
      ['{"reason":', 'arguments are not valid JSON'],
      ['null', 'arguments must be a JSON object'],
      ['[1]', 'arguments must be a JSON object'],
      ['"end"', 'arguments must be a JSON object'],
      ['{"a":"' + 'x'.repeat(MAX_TOOL_ARGUMENT_BYTES) + '"}', 'arguments are too long'],
      // Under the limit in UTF-16 units, over it in UTF-8 bytes.
      ['{"a":"' + 'é'.repeat(MAX_TOOL_ARGUMENT_BYTES / 2) + '"}', 'arguments are too long'],
    ];
    for (const [raw, error] of cases) expect(parseArguments(raw)).toEqual({ ok: false, error });
  });

  it('never throws, whatever the model sends', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string(), fc.json()), (raw) => {
        const verdict = parseArguments(raw);
        expect(typeof verdict.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });
});

/** A ToolSession double: records what goes upstream and the faults reported to it. */
function fakeSession() {
  const sent: string[] = [];
  const faults: unknown[] = [];
  const turns: TurnInput[] = [];
  let closed = false;
  const fail = (err: unknown) => {
    faults.push(err);
    closed = true;
  };
  const session: ToolSession = {
    callSid: 'CA' + '0'.repeat(32),
    log: pino({ level: 'silent' }),
    logBudget: new LogBudget(),
    get isClosed() {
      return closed;
    },
    afterPlayout: () => () => undefined,
    expectEnd: () => undefined,
    close: () => {
      closed = true;
    },
    sendUpstream: (m: string) => void sent.push(m),
    recordTurn: (turn: TurnInput) => void turns.push(turn),
    contain: faultBoundary(fail),
    fail,
  };
  return { session, sent, faults, turns };
}

/** A tool that takes any object as its arguments and answers with `run`. */
function testTool(name: string, run: () => Promise<ToolResult | null>) {
  return defineTool<Record<string, unknown>>({
    name,
    description: 'x',
    parameters: { type: 'object' },
    parseArgs: (raw) => ({ ok: true, args: raw as Record<string, unknown> }),
    run,
  });
}

const rest = {} as TwilioRest;
const config = testConfig();

describe('the tool router', () => {
  it('ends the call through the session (fail) when a tool rejects unexpectedly, answering nothing', async () => {
    const boom = new Error('bug in a tool');
    const tool = testTool('explode', () => Promise.reject(boom));
    const { session, sent, faults } = fakeSession();
    createToolRouter([tool], { rest, config }).onToolCall(session, { callId: 'c1', name: 'explode', arguments: '{}' });
    await until(() => faults.length > 0, 2000, 'the fault reported');
    expect(faults).toEqual([boom]);
    expect(sent).toEqual([]);
  });

  it('contains a throw in its own result handling the same way', async () => {
    const tool = testTool('ok', () => Promise.resolve({ output: { ok: true }, respond: true }));
    const { session, faults } = fakeSession();
    const broken = new Error('upstream send failed');
    session.sendUpstream = () => {
      throw broken;
    };
    createToolRouter([tool], { rest, config }).onToolCall(session, { callId: 'c1', name: 'ok', arguments: '{}' });
    await until(() => faults.length > 0, 2000, 'the fault reported');
    expect(faults).toEqual([broken]);
  });

  it('answers bad arguments with an error output and a new response', () => {
    const tool = testTool('ok', () => Promise.resolve(null));
    const { session, sent, faults, turns } = fakeSession();
    createToolRouter([tool], { rest, config }).onToolCall(session, { callId: 'c9', name: 'ok', arguments: undefined });
    // The call's record gets the tool call with its outcome, refusals included.
    expect(turns).toEqual([{ kind: 'tool_call', name: 'ok', arguments: undefined, outcome: { ok: false, error: 'arguments are missing' } }]);
    expect(sent.map((m) => JSON.parse(m) as { type: string })).toMatchObject([
      { type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'c9', output: JSON.stringify({ ok: false, error: 'arguments are missing' }) } },
      { type: 'response.create' },
    ]);
    expect(faults).toEqual([]);
  });

  it('answers refused calls in a row with a new response only for the first few, and logs a few of each kind', () => {
    const tool = testTool('ok', () => Promise.resolve(null));
    const { session, sent } = fakeSession();
    const router = createToolRouter([tool], { rest, config });
    const responses = () => sent.filter((m) => m === '{"type":"response.create"}').length;
    for (let i = 0; i < 10; i += 1) router.onToolCall(session, { callId: `u${i}`, name: 'nope', arguments: '{}' });
    expect(sent.filter((m) => m.includes('function_call_output'))).toHaveLength(10);
    expect(responses()).toBe(MAX_REFUSED_TOOL_CALLS_IN_A_ROW);
    expect(session.logBudget.heldBack()).toEqual({ unknown_tool: 10 - LOG_LINES_PER_KIND });
    // A call that is accepted ends the run: the next refusal gets a response again.
    router.onToolCall(session, { callId: 'ok1', name: 'ok', arguments: '{}' });
    router.onToolCall(session, { callId: 'u10', name: 'nope', arguments: '{}' });
    expect(responses()).toBe(MAX_REFUSED_TOOL_CALLS_IN_A_ROW + 1);
  });

  it('waitForPlayout runs its timeout inside the session fault boundary', async () => {
    const { session } = fakeSession();
    await expect(waitForPlayout(session, 1)).resolves.toBe('timeout');
    const broken = fakeSession();
    broken.session.afterPlayout = () => () => {
      throw new Error('stop failed');
    };
    void waitForPlayout(broken.session, 1); // never settles (its timeout throws in the boundary) and never rejects
    await until(() => broken.faults.length > 0, 2000, 'the fault reported');
    expect(String(broken.faults[0])).toContain('stop failed');
  });
});

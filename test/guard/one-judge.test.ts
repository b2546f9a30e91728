/**
 * One guard decision, two ways to carry it out: the same facts sent once through the Fastify hook
 * (fast lane off) and once where the fast lane answers on the raw socket must get the same answer:
 * status, body, headers, the socket closed, the same counters and the same log lines.
 */
import { describe, expect, it } from 'vitest';
import { judgeUpgrade } from '../../src/guard/judge.js';
import {
  harnessPerTest,
  httpCounts,
  rawUpgrade,
  rejectionCounts,
  tokenFor,
  type Harness,
  type HarnessOptions,
  type RawAnswer,
} from './harness.js';

const harness = harnessPerTest();

/** One scenario: what happens before each request, run alike on both instances. */
interface Scenario {
  readonly name: string;
  readonly opts?: HarnessOptions;
  readonly steps: ((h: Harness) => string)[];
}

const FROM = '127.0.0.61';

const scenarios: Scenario[] = [
  { name: 'a forged token, then the cooldown it earned', steps: [() => '/twilio/stream/forged', (h) => ((h.clock += 1_000), '/twilio/stream/forged')] },
  {
    name: 'an expired token',
    steps: [
      (h) => {
        const { token } = tokenFor(h, 1);
        h.clock += 5_000;
        return `/twilio/stream/${token}`;
      },
    ],
  },
  {
    name: 'while draining',
    steps: [(h) => (h.registry.startDrain(), '/twilio/stream/forged'), () => '/twilio/stream/forged'],
  },
  {
    name: 'one tool past the upgrade budget',
    opts: { env: { UPGRADE_BURST: '2', REJECT_COOLDOWN_SECONDS: '0' } },
    steps: [() => '/twilio/stream/a', () => '/twilio/stream/b', () => '/twilio/stream/c'],
  },
];

const COMPARED_HEADERS = ['connection', 'cache-control', 'content-type', 'content-length', 'retry-after'];

function answerOf(a: RawAnswer): unknown {
  return {
    status: a.status,
    body: a.body,
    closed: a.closed,
    headers: Object.fromEntries(COMPARED_HEADERS.map((k) => [k, a.headers[k]])),
  };
}

/** The guard's lines, without what differs by who wrote them (Fastify's reqId, times). */
function guardLines(h: Harness): unknown[] {
  return h.logs
    .records()
    .filter((r) => typeof r.msg === 'string' && r.msg.startsWith('guard '))
    .map((r) => [r.msg, r.level, r.ip, r.ipHash, r.status, r.reason, r.cause, r.label, r.seconds, r.strikes]);
}

describe('judge: the fast lane and the hook answer alike', () => {
  for (const scenario of scenarios) {
    it(scenario.name, async () => {
      const viaHook = await harness({ ...scenario.opts, fastLane: false });
      const viaLane = await harness(scenario.opts);
      const answers: unknown[][] = [[], []];
      for (const [i, h] of [viaHook, viaLane].entries()) {
        for (const step of scenario.steps) answers[i]?.push(answerOf(await rawUpgrade(h, step(h), { from: FROM })));
      }
      // Two different paths were compared: the hook judged every request, the lane none.
      expect(viaHook.seen).toHaveLength(scenario.steps.length);
      expect(viaLane.seen).toEqual([]);
      expect(answers[1]).toEqual(answers[0]);
      expect(await httpCounts(viaLane.metrics)).toEqual(await httpCounts(viaHook.metrics));
      expect(await rejectionCounts(viaLane.metrics)).toEqual(await rejectionCounts(viaHook.metrics));
      expect(guardLines(viaLane)).toEqual(guardLines(viaHook));
      expect(guardLines(viaHook)).not.toEqual([]);
    });
  }
});

describe('judgeUpgrade', () => {
  const anonymous = { ok: false, reason: 'bad_token' } as const;

  it('admits valid credentials without asking the store, draining or not', () => {
    for (const draining of [false, true]) {
      expect(judgeUpgrade({ credentials: { ok: true, callSid: 'CA1', expiresAt: 9 }, draining, attempt: undefined })).toEqual({
        kind: 'admit',
        callSid: 'CA1',
        expiresAt: 9,
      });
    }
  });

  it('asks the store about anonymous attempts, then refuses: the store first, else the credential, else draining', () => {
    expect(judgeUpgrade({ credentials: anonymous, draining: false, attempt: undefined })).toEqual({ kind: 'ask_store' });
    const refusal = (attempt: Parameters<typeof judgeUpgrade>[0]['attempt'], draining = false): unknown => {
      const verdict = judgeUpgrade({ credentials: anonymous, draining, attempt });
      return verdict.kind === 'refuse' ? verdict.answer.refusal : verdict.kind;
    };
    expect(refusal({ ok: true })).toEqual({ status: 401, reason: 'bad_token' });
    expect(refusal({ ok: true }, true)).toEqual({ status: 503, reason: 'draining' });
    expect(refusal({ ok: false, status: 403, reason: 'banned', retryAfterMs: 5_000 }, true)).toEqual({
      status: 403,
      reason: 'banned',
      retryAfterMs: 5_000,
    });
  });
});

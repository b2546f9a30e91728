import { describe, expect, it } from 'vitest';
import {
  isNotFound,
  MAX_ERROR_MESSAGE_CHARS,
  placeCallOutcome,
  updateError,
  type RestExchange,
} from '../../src/calls/twilio-rest.js';

const SID = 'CA' + 'a'.repeat(32);
const answered = (status: number, body: unknown, bodyProblem?: string): RestExchange => ({ kind: 'answered', status, body, bodyProblem });

describe('placeCallOutcome: the status line decides, the body adds details', () => {
  it('2xx with a sid is placed; 2xx without a readable one is placed, details unknown', () => {
    expect(placeCallOutcome(answered(201, { sid: SID }), 1000)).toEqual({ kind: 'placed', callSid: SID });
    expect(placeCallOutcome(answered(200, { sid: SID }), 1000)).toEqual({ kind: 'placed', callSid: SID });
    for (const [body, problem] of [
      [null, 'the reply is not a JSON object'],
      [[SID], 'the reply is not a JSON object'],
      [{ sid: 42 }, 'the reply has no valid "sid"'],
      [{ sid: '' }, 'the reply has no valid "sid"'],
      [{ sid: 'CA/../x' }, 'the reply has no valid "sid"'],
    ] as const) {
      expect(placeCallOutcome(answered(201, body), 1000)).toEqual({ kind: 'placed_unconfirmed', status: 201, problem });
    }
    expect(placeCallOutcome(answered(201, undefined, 'the reply is not JSON'), 1000)).toEqual({
      kind: 'placed_unconfirmed',
      status: 201,
      problem: 'the reply is not JSON',
    });
  });

  it("anything else is a failure, with Twilio's code and message when it gave them", () => {
    const refused = placeCallOutcome(answered(400, { code: 21211, message: 'bad To', status: 400 }), 1000);
    expect(refused).toMatchObject({ kind: 'failed', error: { failure: 'refused', status: 400, code: 21211, message: 'bad To' } });
    const redirect = placeCallOutcome(answered(302, undefined, 'the reply is empty'), 1000);
    expect(redirect).toMatchObject({ kind: 'failed', error: { failure: 'refused', status: 302, code: undefined, message: 'Twilio answered HTTP 302' } });
    const long = placeCallOutcome(answered(500, { code: 1.5, message: 'x'.repeat(10_000) }), 1000);
    expect(long).toMatchObject({ kind: 'failed', error: { code: undefined } });
    if (long.kind === 'failed') expect(long.error.message).toHaveLength(MAX_ERROR_MESSAGE_CHARS);
  });

  it('says whether Twilio may have acted when no answer came', () => {
    const cases = [
      ['unreachable', false, 'Twilio API unreachable (ECONNREFUSED)'],
      ['connection_lost', true, 'Twilio API connection lost before an answer (ECONNREFUSED)'],
      ['timeout', true, 'Twilio API did not answer within 1000 ms'],
    ] as const;
    for (const [failure, mayHaveActed, message] of cases) {
      const outcome = placeCallOutcome({ kind: 'no_answer', failure, detail: 'ECONNREFUSED' }, 1000);
      expect(outcome.kind).toBe('failed');
      if (outcome.kind !== 'failed') continue;
      expect(outcome.error).toMatchObject({ failure, status: undefined, code: undefined, message });
      expect(outcome.error.mayHaveActed).toBe(mayHaveActed);
    }
  });
});

describe('updateError', () => {
  it('any 2xx is done, whatever its body; 404 and 20404 mean the call is gone', () => {
    expect(updateError(answered(200, { sid: SID }), 1000)).toBeNull();
    expect(updateError(answered(200, undefined, 'the reply is not JSON'), 1000)).toBeNull();
    const gone = updateError(answered(404, { code: 20404, message: 'not found' }), 1000);
    expect(gone && isNotFound(gone)).toBe(true);
    const goneByCode = updateError(answered(400, { code: 20404 }), 1000);
    expect(goneByCode && isNotFound(goneByCode)).toBe(true);
    const refused = updateError(answered(400, { code: 21220, message: 'Call is not in-progress' }), 1000);
    expect(refused).toMatchObject({ failure: 'refused', code: 21220 });
    expect(refused && isNotFound(refused)).toBe(false);
  });
});

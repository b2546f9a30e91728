import { describe, expect, it } from 'vitest';
import { PendingCalls, type PendingCall } from '../../src/calls/pending-calls.js';
import { profilesFromConfig } from '../../src/assistants/from-config.js';
import { withInstructions } from '../../src/assistants/assistant.js';
import { testConfig } from '../helpers/config.js';

const profile = profilesFromConfig(testConfig()).default;
const call = (greeting?: string): PendingCall => ({ assistant: profile, greeting });

describe('PendingCalls', () => {
  it('hands a call its profile and greeting once; a peek leaves them for the stream', () => {
    const p = new PendingCalls();
    const override = withInstructions(profile, 'Remind Ana of her visit.');
    p.set('CA1', { assistant: override, greeting: 'Hello one' }, 0, 1000);
    p.set('CA2', call('Hello two'), 0, 1000);
    expect(p.peek('CA1', 10)?.assistant).toBe(override);
    expect(p.take('CA2', 10)).toEqual(call('Hello two'));
    expect(p.take('CA2', 10)).toBeUndefined();
    expect(p.take('CA1', 10)).toEqual({ assistant: override, greeting: 'Hello one' });
    expect(p.size).toBe(0);
  });

  it('forgets each entry after its own TTL', () => {
    const p = new PendingCalls();
    p.set('CA1', call('a'), 0, 1000);
    p.set('CA2', call('b'), 500, 1000);
    p.set('CA3', call('c'), 500, 100); // a webhook's entry: as long as its stream token
    expect(p.take('CA1', 999)?.greeting).toBe('a');
    expect(p.peek('CA3', 600)).toBeUndefined(); // expired at 600
    expect(p.take('CA2', 1500)).toBeUndefined(); // expired at 1500
    // A write sweeps expired entries from the old end.
    p.set('CA4', call('d'), 1500, 1000);
    expect(p.size).toBe(1);
    expect(p.take('CA4', 2499)?.greeting).toBe('d');
  });

  it('keeps at most `limit`, dropping the oldest', () => {
    const p = new PendingCalls({ limit: 3 });
    for (let i = 0; i < 3; i++) expect(p.set(`CA${i}`, call(`g${i}`), i, 1000)).toBe(0);
    expect(p.set('CA3', call('g3'), 3, 1000)).toBe(1);
    expect(p.size).toBe(3);
    expect(p.take('CA0', 4)).toBeUndefined();
    expect(p.take('CA3', 4)?.greeting).toBe('g3');
    // Setting a CallSid again replaces its entry without growing the map.
    p.set('CA1', call('again'), 5, 1000);
    expect(p.size).toBe(2);
    expect(p.take('CA1', 5)?.greeting).toBe('again');
    p.delete('CA2');
    expect(p.size).toBe(0);
  });
});

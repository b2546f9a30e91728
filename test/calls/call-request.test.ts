import { describe, expect, it } from 'vitest';
import {
  MAX_GREETING_CHARS,
  MAX_OVERRIDE_INSTRUCTIONS_CHARS,
  parseAssistantChoice,
  parseCallRequest,
} from '../../src/calls/call-request.js';
import { validateAssistants } from '../../src/assistants/validate.js';
import type { Assistants } from '../../src/assistants/assistant.js';

function profiles(): Assistants {
  const verdict = validateAssistants(
    {
      default: 'front-desk',
      assistants: { 'front-desk': { instructions: 'Front desk.' }, sales: { instructions: 'You sell.', voice: 'cedar' } },
    },
    { dir: '/', defaults: { model: 'gpt-realtime', voice: 'marin' } },
  );
  if (!verdict.ok) throw new Error(verdict.problems.join('\n'));
  return verdict.assistants;
}

describe('parseCallRequest without profiles (as before them)', () => {
  it('takes to and greeting, and refuses assistant and instructions as unknown fields', () => {
    expect(parseCallRequest({ to: '+15005550006', greeting: ' Hi. ' })).toEqual({ ok: true, request: { to: '+15005550006', greeting: 'Hi.', assistant: undefined } });
    expect(parseCallRequest({ to: '+15005550006', assistant: 'sales' })).toEqual({ ok: false, message: 'unknown field: assistant (allowed: to, greeting)' });
    expect(parseCallRequest({ to: '+15005550006', instructions: 'x' })).toEqual({ ok: false, message: 'unknown field: instructions (allowed: to, greeting)' });
  });

  it('still bounds the greeting', () => {
    expect(parseCallRequest({ to: '+15005550006', greeting: 'x'.repeat(MAX_GREETING_CHARS + 1) })).toEqual({
      ok: false,
      message: `"greeting" must be at most ${MAX_GREETING_CHARS} characters (got ${MAX_GREETING_CHARS + 1})`,
    });
  });
});

describe('parseCallRequest with profiles', () => {
  it('resolves the named profile, else the default', () => {
    const p = profiles();
    const named = parseCallRequest({ to: '+15005550006', assistant: 'sales' }, p);
    expect(named.ok && named.request.assistant).toBe(p.byName.sales);
    const plain = parseCallRequest({ to: '+15005550006', greeting: 'Hello.' }, p);
    expect(plain.ok && plain.request).toEqual({ to: '+15005550006', greeting: 'Hello.', assistant: p.default });
  });

  it('answers an unknown or non-string assistant with a message naming the configured ones', () => {
    const p = profiles();
    expect(parseCallRequest({ to: '+15005550006', assistant: 'salez' }, p)).toEqual({
      ok: false,
      message: '"assistant" names no configured assistant: "salez" (configured: front-desk, sales)',
    });
    expect(parseCallRequest({ to: '+15005550006', assistant: 'constructor' }, p).ok).toBe(false);
    expect(parseCallRequest({ to: '+15005550006', assistant: ['sales'] }, p)).toEqual({
      ok: false,
      message: '"assistant" must be the name of a configured assistant (a string)',
    });
    expect(parseCallRequest({ to: '+15005550006', voice: 'ash' }, p)).toEqual({
      ok: false,
      message: 'unknown field: voice (allowed: to, greeting, assistant, instructions)',
    });
  });
});

describe('parseAssistantChoice: the instructions override', () => {
  it('replaces the profile’s instructions for this call only, keeping its name and the rest', () => {
    const p = profiles();
    const verdict = parseAssistantChoice({ assistant: 'sales', instructions: '  Remind Ana of her 3 pm visit.\nBe brief.  ' }, p);
    expect(verdict).toEqual({ ok: true, assistant: { ...p.byName.sales, instructions: 'Remind Ana of her 3 pm visit.\nBe brief.' } });
    expect(verdict.ok && Object.isFrozen(verdict.assistant)).toBe(true);
    expect(p.byName.sales!.instructions).toBe('You sell.');
    const onDefault = parseAssistantChoice({ instructions: 'Other.' }, p);
    expect(onDefault.ok && onDefault.assistant).toMatchObject({ name: 'front-desk', instructions: 'Other.' });
  });

  it('refuses an override that is not a string, blank, too long or holds control characters', () => {
    const p = profiles();
    expect(parseAssistantChoice({ instructions: 7 }, p)).toEqual({ ok: false, message: '"instructions" must be a string' });
    expect(parseAssistantChoice({ instructions: ' \n ' }, p)).toEqual({ ok: false, message: '"instructions" must not be empty (leave it out for the assistant\'s own)' });
    expect(parseAssistantChoice({ instructions: 'x'.repeat(MAX_OVERRIDE_INSTRUCTIONS_CHARS + 1) }, p)).toEqual({
      ok: false,
      message: `"instructions" must be at most ${MAX_OVERRIDE_INSTRUCTIONS_CHARS} characters (got ${MAX_OVERRIDE_INSTRUCTIONS_CHARS + 1})`,
    });
    expect(parseAssistantChoice({ instructions: 'x'.repeat(MAX_OVERRIDE_INSTRUCTIONS_CHARS) }, p).ok).toBe(true);
    expect(parseAssistantChoice({ instructions: 'a\u0000b' }, p)).toEqual({
      ok: false,
      message: '"instructions" must not hold control characters other than tab and newline',
    });
  });
});

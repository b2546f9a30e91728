import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { validateAssistants, type ValidateOptions } from '../../src/assistants/validate.js';
import { assistantNamed } from '../../src/assistants/assistant.js';
import {
  MAX_ASSISTANTS,
  MAX_GREETING_CHARS,
  MAX_INSTRUCTIONS_CHARS,
  MAX_NUMBERS,
} from '../../src/assistants/limits.js';
import { MAX_PROBLEMS } from '../../src/checked-json.js';
import { MAX_PRICE_PER_MILLION_USD } from '../../src/usage/prices.js';
import { useTempFiles } from './files.js';

const OPTS: ValidateOptions = { dir: '/nonexistent-dir-for-tests', defaults: { model: 'gpt-realtime', voice: 'marin' } };
const PROFILE_KEYS = 'instructions, instructionsFile, model, voice, greeting, tools, transferNumber, language, prices';

/** A valid file with one profile `sales`; `edit` changes it. */
function file(sales: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
  return { default: 'sales', assistants: { sales: { instructions: 'Sell.', ...sales } }, ...top };
}

/** The problems of `json` ([] when it is valid). */
function problems(json: unknown, opts: ValidateOptions = OPTS): readonly string[] {
  const verdict = validateAssistants(json, opts);
  return verdict.ok ? [] : verdict.problems;
}

describe('validateAssistants: a valid file', () => {
  it('resolves every field, fills model and voice from the defaults, and freezes the result', () => {
    const verdict = validateAssistants(
      {
        default: 'front-desk',
        assistants: {
          'front-desk': { instructions: '  You answer for Acme.\n\tBe brief.  ', voice: 'cedar', greeting: 'Acme, how can I help?', tools: ['end_call'] },
          sales: { instructions: 'Sell.', model: 'gpt-realtime-mini', tools: ['end_call', 'transfer_call'], transferNumber: '+15005550009', language: 'en' },
        },
        numbers: { '+15005550006': 'sales' },
      },
      OPTS,
    );
    if (!verdict.ok) throw new Error(verdict.problems.join('\n'));
    const { assistants } = verdict;
    expect(assistants.default).toEqual({
      name: 'front-desk',
      instructions: 'You answer for Acme.\n\tBe brief.',
      model: 'gpt-realtime',
      voice: 'cedar',
      greeting: 'Acme, how can I help?',
      tools: ['end_call'],
      transferNumber: undefined,
      language: undefined,
      prices: undefined,
    });
    expect(assistantNamed(assistants, 'sales')).toEqual({
      name: 'sales',
      instructions: 'Sell.',
      model: 'gpt-realtime-mini',
      voice: 'marin',
      greeting: undefined,
      tools: ['end_call', 'transfer_call'],
      transferNumber: '+15005550009',
      language: 'en',
      prices: undefined,
    });
    expect({ ...assistants.numbers }).toEqual({ '+15005550006': 'sales' });
    expect(Object.isFrozen(assistants)).toBe(true);
    expect(Object.isFrozen(assistants.byName)).toBe(true);
    expect(Object.isFrozen(assistants.numbers)).toBe(true);
    expect(Object.isFrozen(assistants.default)).toBe(true);
    expect(Object.isFrozen(assistants.default.tools)).toBe(true);
  });

  it('gives a profile without tools every tool it can honour: end_call, and transfer_call with a number', () => {
    const verdict = validateAssistants(
      { default: 'a', assistants: { a: { instructions: 'x' }, b: { instructions: 'y', transferNumber: '+15005550009' } } },
      OPTS,
    );
    if (!verdict.ok) throw new Error(verdict.problems.join('\n'));
    expect(verdict.assistants.byName.a!.tools).toEqual(['end_call']);
    expect(verdict.assistants.byName.b!.tools).toEqual(['end_call', 'transfer_call']);
    // An explicit empty list means no tools.
    const none = validateAssistants(file({ tools: [] }), OPTS);
    expect(none.ok && none.assistants.default.tools).toEqual([]);
  });

  it('finds no profile by a name inherited from Object (null-prototype records)', () => {
    const verdict = validateAssistants(file(), OPTS);
    if (!verdict.ok) throw new Error('invalid');
    expect(assistantNamed(verdict.assistants, 'constructor')).toBeUndefined();
    expect(assistantNamed(verdict.assistants, '__proto__')).toBeUndefined();
  });

  it('accepts prices with one cached price or one per modality', () => {
    const one = validateAssistants(file({ prices: { input: { text: 4, audio: 32, cached: 0.4 }, output: { text: 16, audio: 64 } } }), OPTS);
    expect(one.ok && one.assistants.default.prices).toEqual({
      inputText: 4, inputAudio: 32, inputCachedText: 0.4, inputCachedAudio: 0.4, outputText: 16, outputAudio: 64,
    });
    const split = validateAssistants(file({ prices: { input: { text: 0.6, audio: 10, cached: { text: 0.06, audio: 0.3 } }, output: { text: 2.4, audio: 20 } } }), OPTS);
    expect(split.ok && split.assistants.default.prices).toEqual({
      inputText: 0.6, inputAudio: 10, inputCachedText: 0.06, inputCachedAudio: 0.3, outputText: 2.4, outputAudio: 20,
    });
  });
});

describe('validateAssistants: every problem named with its JSON path', () => {
  const cases: [string, unknown, string[]][] = [
    ['not an object', ['x'], ['the file must hold a JSON object {"default", "assistants", "numbers"} (got array)']],
    ['an unknown top-level key', file({}, { assistans: {} }), ['assistans: unknown key (allowed: default, assistants, numbers)']],
    ['default missing', { assistants: { sales: { instructions: 'x' } } }, ['default: is required: the name of the profile for unmapped numbers']],
    ['default not a string', file({}, { default: 3 }), ['default: must be a profile name (got number)']],
    ['default naming no profile', file({}, { default: 'salez' }), ['default: names missing profile "salez"']],
    ['assistants missing', { default: 'a' }, ['assistants: is required']],
    ['assistants not an object', { default: 'a', assistants: [] }, ['assistants: must be an object (got array)']],
    ['no profiles', { default: 'a', assistants: {} }, ['assistants: must hold at least one profile', 'default: names missing profile "a"']],
    ['a bad profile name', { default: 'a', assistants: { a: { instructions: 'x' }, 'Sales Line': { instructions: 'y' } } }, [
      'assistants["Sales Line"]: a name must be 1 to 32 of a-z, 0-9, "-" and "_", starting with a letter or digit (MAX_ASSISTANT_NAME_CHARS)',
    ]],
    ['a profile that is not an object', file({}, { assistants: { sales: 'Sell.' } }), ['assistants.sales: must be an object (got string)']],
    ['an unknown profile key', file({ voise: 'cedar' }), [`assistants.sales.voise: unknown key (allowed: ${PROFILE_KEYS})`]],
    ['instructions and instructionsFile', file({ instructionsFile: 'a.txt' }), ['assistants.sales: give instructions or instructionsFile, not both']],
    ['neither instructions nor a file', file({}, { assistants: { sales: { voice: 'marin' } } }), ['assistants.sales: instructions or instructionsFile is required']],
    ['instructions of the wrong type', file({ instructions: 42 }), ['assistants.sales.instructions: must be a string (got number)']],
    ['blank instructions', file({ instructions: '  \n ' }), ['assistants.sales.instructions: must not be empty (leave it out instead)']],
    ['instructions over the limit', file({ instructions: 'x'.repeat(MAX_INSTRUCTIONS_CHARS + 1) }), [
      `assistants.sales.instructions: must be at most ${MAX_INSTRUCTIONS_CHARS} characters (MAX_INSTRUCTIONS_CHARS; got ${MAX_INSTRUCTIONS_CHARS + 1})`,
    ]],
    ['instructions with a control character', file({ instructions: 'a\u0007b' }), ['assistants.sales.instructions: must not hold control characters other than tab and newline']],
    ['a missing instructions file', file({}, { assistants: { sales: { instructionsFile: './missing.txt' } } }), [
      'assistants.sales.instructionsFile: cannot read ./missing.txt (no such file)',
    ]],
    ['an instructionsFile of the wrong type', file({}, { assistants: { sales: { instructionsFile: ['a'] } } }), ['assistants.sales.instructionsFile: must be a string (got array)']],
    ['an unknown voice', file({ voice: 'robot' }), ['assistants.sales.voice: unknown voice "robot" (one of: alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar)']],
    ['a voice of the wrong type', file({ voice: true }), ['assistants.sales.voice: must be a string (got boolean)']],
    ['a bad model name', file({ model: 'gpt realtime&x=1' }), [
      'assistants.sales.model: must be a model name of 1 to 64 letters, digits and . _ : - (MAX_MODEL_CHARS; got "gpt realtime&x=1")',
    ]],
    ['a greeting over the limit', file({ greeting: 'x'.repeat(MAX_GREETING_CHARS + 1) }), [
      `assistants.sales.greeting: must be at most ${MAX_GREETING_CHARS} characters (MAX_GREETING_CHARS; got ${MAX_GREETING_CHARS + 1})`,
    ]],
    ['a greeting of two lines', file({ greeting: 'Hi.\nBye.' }), ['assistants.sales.greeting: must be one line of text without control characters']],
    ['tools that are not a list', file({ tools: 'end_call' }), ['assistants.sales.tools: must be an array of tool names (got string)']],
    ['an unknown tool', file({ tools: ['end_call', 'fax'] }), ['assistants.sales.tools[1]: unknown tool "fax" (the bridge has: end_call, transfer_call)']],
    ['a tool that is not a name', file({ tools: [{ name: 'end_call' }] }), ['assistants.sales.tools[0]: must be a tool name (got object)']],
    ['a tool listed twice', file({ tools: ['end_call', 'end_call'] }), ['assistants.sales.tools[1]: "end_call" is listed twice']],
    ['transfer_call without a number', file({ tools: ['transfer_call'] }), ['assistants.sales.tools: "transfer_call" needs transferNumber (the E.164 number it dials)']],
    ['a transfer number that is not E.164', file({ transferNumber: '555-0100' }), [
      'assistants.sales.transferNumber: not E.164 (a plus, then 2 to 15 digits, such as +15551234567; got "555-0100")',
    ]],
    ['a language that is not ISO-639-1', file({ language: 'English' }), ['assistants.sales.language: must be an ISO-639-1 code of two lower-case letters such as "en" (got "English")']],
    ['prices that are not an object', file({ prices: 4 }), ['assistants.sales.prices: must be an object {input: {text, audio, cached}, output: {text, audio}} (got number)']],
    ['prices missing a class, with a bad value and an unknown key', file({ prices: { input: { text: 4, audio: -1, cachd: 0.4 }, output: { text: '16', audio: 64 } } }), [
      'assistants.sales.prices.input.cachd: unknown key (allowed: text, audio, cached)',
      `assistants.sales.prices.input.audio: must be a number of USD per million tokens from 0 to ${MAX_PRICE_PER_MILLION_USD} (MAX_PRICE_PER_MILLION_USD; got -1)`,
      'assistants.sales.prices.input.cached: is required (USD per million tokens)',
      `assistants.sales.prices.output.text: must be a number of USD per million tokens from 0 to ${MAX_PRICE_PER_MILLION_USD} (MAX_PRICE_PER_MILLION_USD; got string)`,
    ]],
    ['prices without output', file({ prices: { input: { text: 4, audio: 32, cached: { text: 0.4 } } } }), [
      'assistants.sales.prices.output: is required',
      'assistants.sales.prices.input.cached.audio: is required (USD per million tokens)',
    ]],
    ['numbers that are not an object', file({}, { numbers: ['+15005550006'] }), ['numbers: must be an object (got array)']],
    ['a number that is not E.164', file({}, { numbers: { '5005550006': 'sales' } }), ['numbers["5005550006"]: not E.164 (a plus, then 2 to 15 digits, such as +15551234567)']],
    ['a number mapped to a missing profile', file({}, { numbers: { '+15005550006': 'salez' } }), ['numbers["+15005550006"]: maps to missing profile "salez"']],
    ['a number mapped to a non-name', file({}, { numbers: { '+15005550006': 1 } }), ['numbers["+15005550006"]: must be a profile name (got number)']],
  ];

  it.each(cases)('%s', (_what, json, expected) => {
    expect([...problems(json)].sort()).toEqual([...expected].sort());
  });

  it('names a broken profile once: a mapping to it or a default naming it is not also "missing"', () => {
    expect(problems(file({ voice: 'robot' }, { numbers: { '+15005550006': 'sales' } }))).toEqual([
      'assistants.sales.voice: unknown voice "robot" (one of: alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar)',
    ]);
  });

  it('reports every problem of a file in one pass', () => {
    const found = problems({
      default: 'nobody',
      assistants: { a: { instructions: 1, voice: 'robot', tools: ['fax'] }, b: { instructions: 'x', language: 'EN' } },
      numbers: { '123': 'a', '+15005550006': 'c' },
      extra: true,
    });
    expect(found).toHaveLength(8);
    expect(found).toContain('default: names missing profile "nobody"');
    expect(found).toContain('numbers["123"]: not E.164 (a plus, then 2 to 15 digits, such as +15551234567)');
    expect(found).toContain('assistants.a.tools[0]: unknown tool "fax" (the bridge has: end_call, transfer_call)');
  });

  it(`keeps at most ${MAX_PROBLEMS} problems and counts the rest`, () => {
    const numbers = Object.fromEntries(Array.from({ length: MAX_PROBLEMS + 7 }, (_, i) => [`+1500555${String(i).padStart(4, '0')}`, 'nobody']));
    const found = problems(file({}, { numbers }));
    expect(found).toHaveLength(MAX_PROBLEMS + 1);
    expect(found.at(-1)).toBe('… and 7 more problems');
  });

  it(`refuses more than ${MAX_ASSISTANTS} profiles and ${MAX_NUMBERS} numbers`, () => {
    const assistants = Object.fromEntries(Array.from({ length: MAX_ASSISTANTS + 1 }, (_, i) => [`a${i}`, { instructions: 'x' }]));
    expect(problems({ default: 'a0', assistants })).toEqual([`assistants: holds ${MAX_ASSISTANTS + 1} profiles, over ${MAX_ASSISTANTS} (MAX_ASSISTANTS)`]);
    const numbers = Object.fromEntries(Array.from({ length: MAX_NUMBERS + 1 }, (_, i) => [`+1500${String(i).padStart(7, '0')}`, 'sales']));
    expect(problems(file({}, { numbers }))).toEqual([`numbers: maps ${MAX_NUMBERS + 1} numbers, over ${MAX_NUMBERS} (MAX_NUMBERS)`]);
  });

  it('echoes long or odd keys and values cut and quoted', () => {
    const long = 'f'.repeat(100);
    expect(problems(file({ tools: [long] }))).toEqual([`assistants.sales.tools[0]: unknown tool "${'f'.repeat(40)}…" (the bridge has: end_call, transfer_call)`]);
    expect(problems(JSON.parse('{"default":"a","assistants":{"a":{"instructions":"x"}},"numbers":{"__proto__":"a"}}'))).toEqual([
      'numbers["__proto__"]: not E.164 (a plus, then 2 to 15 digits, such as +15551234567)',
    ]);
  });

  it('checks tools against the tool names it is given', () => {
    expect(problems(file({ tools: ['end_call'] }), { ...OPTS, toolNames: ['transfer_call'] })).toEqual([
      'assistants.sales.tools[0]: unknown tool "end_call" (the bridge has: transfer_call)',
    ]);
  });

  it('never throws, whatever JSON it is given', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        const verdict = validateAssistants(json, OPTS);
        expect(verdict.ok ? 0 : verdict.problems.length).toBeLessThanOrEqual(MAX_PROBLEMS + 1);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.dictionary(fc.string(), fc.jsonValue()), (profile, numbers) => {
        validateAssistants({ default: 'sales', assistants: { sales: profile }, numbers }, OPTS);
      }),
      { numRuns: 300 },
    );
  });
});

describe('validateAssistants: instructionsFile', () => {
  const temp = useTempFiles();

  it('reads the file relative to the assistants file directory, not the working directory', () => {
    const t = temp();
    t.write('prompts/sales.txt', 'You sell.\nBe kind.\n');
    const verdict = validateAssistants(file({}, { assistants: { sales: { instructionsFile: 'prompts/sales.txt' } } }), { ...OPTS, dir: t.dir });
    expect(verdict.ok && verdict.assistants.default.instructions).toBe('You sell.\nBe kind.');
    // The same relative path from another directory finds nothing.
    expect(problems(file({}, { assistants: { sales: { instructionsFile: 'prompts/sales.txt' } } }))).toEqual([
      'assistants.sales.instructionsFile: cannot read prompts/sales.txt (no such file)',
    ]);
  });

  it('names a directory, a file that is not UTF-8, an empty file and an oversized one', () => {
    const t = temp();
    t.write('dir/x.txt', 'x');
    t.write('latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9])); // "café" in Latin-1
    t.write('empty.txt', '\n\n');
    t.write('big.txt', 'x'.repeat(4 * MAX_INSTRUCTIONS_CHARS + 1));
    const at = (f: string) => problems(file({}, { assistants: { sales: { instructionsFile: f } } }), { ...OPTS, dir: t.dir });
    expect(at('dir')).toEqual(['assistants.sales.instructionsFile: cannot read dir (is a directory)']);
    expect(at('latin1.txt')).toEqual(['assistants.sales.instructionsFile: cannot read latin1.txt (is not UTF-8 text)']);
    expect(at('empty.txt')).toEqual(['assistants.sales.instructionsFile (empty.txt): must not be empty (leave it out instead)']);
    expect(at('big.txt')).toEqual([
      `assistants.sales.instructionsFile: cannot read big.txt (is ${4 * MAX_INSTRUCTIONS_CHARS + 1} bytes, over ${4 * MAX_INSTRUCTIONS_CHARS} (MAX_INSTRUCTIONS_FILE_BYTES))`,
    ]);
  });

  it('reads an absolute instructionsFile as it is', () => {
    const t = temp();
    const path = t.write('abs.txt', 'Absolute.');
    const verdict = validateAssistants(file({}, { assistants: { sales: { instructionsFile: path } } }), OPTS);
    expect(verdict.ok && verdict.assistants.default.instructions).toBe('Absolute.');
  });
});

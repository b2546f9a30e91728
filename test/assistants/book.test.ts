import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { AssistantBook } from '../../src/assistants/book.js';
import { AssistantsError, loadAssistants } from '../../src/assistants/load.js';
import { MAX_ASSISTANTS_FILE_BYTES } from '../../src/assistants/limits.js';
import { useTempFiles } from './files.js';

const DEFAULTS = { model: 'gpt-realtime', voice: 'marin' };
const ENV = { openaiInstructions: 'From the environment.', openaiModel: 'gpt-realtime', openaiVoice: 'marin', greeting: undefined, transferNumber: undefined };

const TWO = {
  default: 'front-desk',
  assistants: {
    'front-desk': { instructionsFile: 'prompts/front-desk.txt', voice: 'marin', greeting: 'Acme, how can I help?', tools: ['end_call'] },
    sales: { instructions: 'You sell.', voice: 'cedar', tools: ['end_call', 'transfer_call'], transferNumber: '+15005550009' },
  },
  numbers: { '+15005550006': 'sales' },
};

describe('loadAssistants', () => {
  const temp = useTempFiles();

  it('reads instructionsFile relative to the assistants file, wherever the process runs', () => {
    const t = temp();
    t.write('conf/prompts/front-desk.txt', 'You answer for Acme.\n');
    const path = t.write('conf/assistants.json', TWO);
    const verdict = loadAssistants(path, { defaults: DEFAULTS });
    if (!verdict.ok) throw new Error(verdict.problems.join('\n'));
    expect(verdict.assistants.default.instructions).toBe('You answer for Acme.');
    expect(verdict.assistants.source).toBe(path);
  });

  it('names a missing file, a file that is not JSON, and one over MAX_ASSISTANTS_FILE_BYTES', () => {
    const t = temp();
    expect(loadAssistants(`${t.dir}/nope.json`, { defaults: DEFAULTS })).toEqual({
      ok: false,
      problems: [`ASSISTANTS_FILE: cannot read ${t.dir}/nope.json (no such file)`],
    });
    const bad = t.write('bad.json', '{"default": "a",');
    const notJson = loadAssistants(bad, { defaults: DEFAULTS });
    expect(notJson.ok).toBe(false);
    expect(!notJson.ok && notJson.problems[0]).toMatch(new RegExp(`^ASSISTANTS_FILE: ${bad} is not JSON \\(.+\\)$`));
    const big = t.write('big.json', ' '.repeat(MAX_ASSISTANTS_FILE_BYTES + 1));
    expect(loadAssistants(big, { defaults: DEFAULTS })).toEqual({
      ok: false,
      problems: [`ASSISTANTS_FILE: cannot read ${big} (is ${MAX_ASSISTANTS_FILE_BYTES + 1} bytes, over ${MAX_ASSISTANTS_FILE_BYTES} (MAX_ASSISTANTS_FILE_BYTES))`],
    });
  });
});

describe('AssistantBook', () => {
  const temp = useTempFiles();

  function twoProfiles() {
    const t = temp();
    t.write('prompts/front-desk.txt', 'You answer for Acme.');
    const path = t.write('assistants.json', TWO);
    return { t, path, book: AssistantBook.open(path, ENV) };
  }

  it('maps a called number to its profile, and any other number (or none) to the default', () => {
    const { book } = twoProfiles();
    expect(book.forNumber('+15005550006').name).toBe('sales');
    expect(book.forNumber('+15005550007').name).toBe('front-desk');
    expect(book.forNumber(undefined).name).toBe('front-desk');
    expect(book.forNumber('__proto__').name).toBe('front-desk');
    expect(book.byName('sales')?.voice).toBe('cedar');
    expect(book.byName('salez')).toBeUndefined();
    expect(book.byName('toString')).toBeUndefined();
  });

  it('without a file, has the one profile from the environment for every number; reload keeps it', () => {
    const book = AssistantBook.open(undefined, ENV);
    expect(book.forNumber('+15005550006').instructions).toBe('From the environment.');
    const before = book.current();
    expect(book.reload()).toEqual({ ok: true, assistants: before });
    expect(book.current()).toBe(before);
  });

  it('throws one AssistantsError naming every problem at start', () => {
    const t = temp();
    const path = t.write('assistants.json', { ...TWO, numbers: { '+15005550006': 'salez', '555': 'sales' } });
    let caught: unknown;
    try {
      AssistantBook.open(path, ENV);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AssistantsError);
    const err = caught as AssistantsError;
    expect(err.code).toBe('VB_ERR_ASSISTANTS');
    expect([...err.problems].sort()).toEqual([
      'assistants.front-desk.instructionsFile: cannot read prompts/front-desk.txt (no such file)',
      'numbers["+15005550006"]: maps to missing profile "salez"',
      'numbers["555"]: not E.164 (a plus, then 2 to 15 digits, such as +15551234567)',
    ]);
    expect(err.message).toContain('Invalid assistants file (3 problems):\n  - ');
  });

  it('reload: new profiles for new lookups; a profile already taken is unchanged', () => {
    const { path, book } = twoProfiles();
    const live = book.forNumber('+15005550006');
    writeFileSync(path, JSON.stringify({ ...TWO, assistants: { ...TWO.assistants, sales: { ...TWO.assistants.sales, voice: 'ash' } } }));
    const result = book.reload();
    expect(result.ok).toBe(true);
    expect(book.forNumber('+15005550006').voice).toBe('ash');
    expect(live.voice).toBe('cedar');
    expect(Object.isFrozen(live)).toBe(true);
  });

  it('reload of a bad file keeps the profiles in force and returns the problems', () => {
    const { t, path, book } = twoProfiles();
    const before = book.current();
    writeFileSync(path, JSON.stringify({ ...TWO, default: 'nobody' }));
    expect(book.reload()).toEqual({ ok: false, problems: ['default: names missing profile "nobody"'] });
    expect(book.current()).toBe(before);
    writeFileSync(path, '{ not json');
    expect(book.reload().ok).toBe(false);
    // An instructions file emptied after start is a reload problem, not a crash.
    writeFileSync(path, JSON.stringify(TWO));
    t.write('prompts/front-desk.txt', '');
    expect(book.reload()).toEqual({ ok: false, problems: ['assistants.front-desk.instructionsFile (prompts/front-desk.txt): must not be empty (leave it out instead)'] });
    expect(book.current()).toBe(before);
    expect(book.forNumber('+15005550006').name).toBe('sales');
  });

  it('fills left-out model and voice from OPENAI_MODEL and OPENAI_VOICE', () => {
    const t = temp();
    const path = t.write('a.json', { default: 'a', assistants: { a: { instructions: 'x' } } });
    const book = AssistantBook.open(path, { ...ENV, openaiModel: 'gpt-realtime-mini', openaiVoice: 'verse' });
    expect(book.current().default).toMatchObject({ model: 'gpt-realtime-mini', voice: 'verse' });
  });
});

/**
 * The shipped example and the documentation say what the code does: the example loads, the
 * docs show the example as it is, and the error message the docs show is the one the bridge
 * prints for that file.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAssistants, AssistantsError } from '../../src/assistants/load.js';
import { AssistantBook } from '../../src/assistants/book.js';
import { ROOT } from '../helpers/server-process.js';
import { useTempFiles } from './files.js';

const EXAMPLE = join(ROOT, 'deploy/assistants.example.json');
const DOC = readFileSync(join(ROOT, 'docs/assistants.md'), 'utf8');
const ENV = { openaiInstructions: 'x', openaiModel: 'gpt-realtime', openaiVoice: 'marin', greeting: undefined, transferNumber: undefined };

/** The fenced blocks whose info string is `lang` ('' for none), in order. */
function blocks(lang: string): string[] {
  const out: string[] = [];
  let open: { lang: string; lines: string[] } | undefined;
  for (const line of DOC.split('\n')) {
    const fence = /^\s*```(\S*)\s*$/.exec(line);
    if (fence && open === undefined) open = { lang: fence[1]!, lines: [] };
    else if (fence && open !== undefined) {
      if (open.lang === lang) out.push(open.lines.map((l) => `${l}\n`).join(''));
      open = undefined;
    } else open?.lines.push(line);
  }
  return out;
}

describe('deploy/assistants.example.json', () => {
  it('loads, with its instructions file, and maps its numbers as documented', () => {
    const verdict = loadAssistants(EXAMPLE, { defaults: { model: 'gpt-realtime', voice: 'marin' } });
    if (!verdict.ok) throw new Error(verdict.problems.join('\n'));
    const book = new AssistantBook(verdict.assistants);
    expect(book.forNumber('+15005550006').name).toBe('sales');
    expect(book.forNumber('+15005550007')).toMatchObject({ name: 'after-hours', model: 'gpt-realtime-mini', tools: ['end_call'] });
    expect(book.forNumber('+15005550007').instructions).toMatch(/^You answer the phone for Acme Plumbing outside opening hours/);
    expect(book.forNumber('+15009999999').name).toBe('front-desk');
    expect(book.byName('sales')?.tools).toEqual(['end_call', 'transfer_call']);
  });

  it('is the file docs/assistants.md shows', () => {
    expect(JSON.parse(blocks('json')[0]!)).toEqual(JSON.parse(readFileSync(EXAMPLE, 'utf8')));
  });
});

describe('docs/assistants.md', () => {
  const temp = useTempFiles();

  it('shows the message the bridge prints for the broken file it describes', () => {
    const t = temp();
    const example = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as { assistants: { sales: { tools: string[] } }; numbers: unknown };
    example.assistants.sales.tools = ['end_call', 'fax'];
    example.numbers = { '5005550006': 'sales', '+15005550007': 'after-hour' };
    const path = t.write('assistants.json', example); // no prompts/ next to it
    let message = '';
    try {
      AssistantBook.open(path, ENV);
    } catch (err) {
      if (err instanceof AssistantsError) message = err.message;
    }
    const shown = blocks('').find((b) => b.startsWith('Invalid assistants file'));
    expect(shown).toBeDefined();
    expect(`${message}\n`).toBe(shown);
  });
});

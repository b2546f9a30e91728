/**
 * The assistants file, read and checked: synchronous (at start, before listening; and on
 * SIGHUP, where the bounded sizes keep the read to a few milliseconds of page cache), never
 * throwing. Problems name the file, or a JSON path inside it.
 */
import { dirname, resolve } from 'node:path';
import { readBoundedText } from './instructions-file.js';
import { MAX_ASSISTANTS_FILE_BYTES } from './limits.js';
import { validateAssistants, type AssistantsVerdict, type ValidateOptions } from './validate.js';

export type LoadOptions = Omit<ValidateOptions, 'dir' | 'source'>;

export function loadAssistants(path: string, opts: LoadOptions): AssistantsVerdict {
  const file = resolve(path);
  const read = readBoundedText(file, MAX_ASSISTANTS_FILE_BYTES, 'MAX_ASSISTANTS_FILE_BYTES');
  if (!read.ok) return { ok: false, problems: [`ASSISTANTS_FILE: cannot read ${path} (${read.problem})`] };
  let json: unknown;
  try {
    json = JSON.parse(read.text) as unknown;
  } catch (err) {
    // SyntaxError's message names the position, not the content around it.
    return { ok: false, problems: [`ASSISTANTS_FILE: ${path} is not JSON (${(err as Error).message})`] };
  }
  return validateAssistants(json, { ...opts, dir: dirname(file), source: file });
}

/** Thrown at start by whoever loads the file with a bad verdict; server.ts prints it and exits 1. */
export class AssistantsError extends Error {
  readonly code = 'VB_ERR_ASSISTANTS';
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid assistants file (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        '\nSee docs/assistants.md.',
    );
    this.name = 'AssistantsError';
  }
}

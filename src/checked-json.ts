/**
 * Reading an operator's JSON file field by field, collecting every problem with its JSON path
 * (`assistants.sales.tools[1]: unknown tool "fax"`), so one run names every mistake, as
 * config.ts does for the environment. Pure; never throws on any input.
 */

/** Problems kept per file; past it one last line says how many more there were. */
export const MAX_PROBLEMS = 50;
/** Longest key or value echoed in a problem, in characters (the rest is cut to "…"). */
export const MAX_ECHO_CHARS = 40;

export type JsonObject = Record<string, unknown>;

export const isJsonObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Collects problems, bounded by MAX_PROBLEMS. */
export class Problems {
  readonly #lines: string[] = [];
  #dropped = 0;

  add(path: string, message: string): void {
    if (this.#lines.length < MAX_PROBLEMS) this.#lines.push(path === '' ? message : `${path}: ${message}`);
    else this.#dropped++;
  }

  get count(): number {
    return this.#lines.length + this.#dropped;
  }

  /** The problems, frozen; a last line counts those past MAX_PROBLEMS. */
  list(): readonly string[] {
    const out = [...this.#lines];
    if (this.#dropped > 0) out.push(`… and ${this.#dropped} more problem${this.#dropped === 1 ? '' : 's'}`);
    return Object.freeze(out);
  }
}

/** `text` quoted as JSON, cut to MAX_ECHO_CHARS: safe to print whatever the file held. */
export function echo(text: string): string {
  return JSON.stringify(text.length > MAX_ECHO_CHARS ? `${text.slice(0, MAX_ECHO_CHARS)}…` : text);
}

/** `parent["key"]` always (phone numbers: `numbers["+15551234567"]`). */
export const bracketPath = (parent: string, key: string): string => `${parent}[${echo(key)}]`;

/** `parent.key` for plain keys, `parent["+1555"]` for any other. */
export function keyPath(parent: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) && key.length <= MAX_ECHO_CHARS) return parent === '' ? key : `${parent}.${key}`;
  return bracketPath(parent, key);
}

export const indexPath = (parent: string, index: number): string => `${parent}[${index}]`;

/** The JSON type of a value, for "must be a string (got number)". */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Names every key of `o` outside `allowed`, one problem each. */
export function checkKeys(o: JsonObject, allowed: readonly string[], path: string, problems: Problems): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) problems.add(keyPath(path, key), `unknown key (allowed: ${allowed.join(', ')})`);
  }
}

/** `o[key]` when it is an object, else a problem and undefined (absent: a problem only if required). */
export function readObject(o: JsonObject, key: string, path: string, problems: Problems, required: boolean): JsonObject | undefined {
  const v = o[key];
  const at = keyPath(path, key);
  if (v === undefined) {
    if (required) problems.add(at, 'is required');
    return undefined;
  }
  if (!isJsonObject(v)) {
    problems.add(at, `must be an object (got ${jsonType(v)})`);
    return undefined;
  }
  return v;
}

/** Control characters: C0 and DEL; with `multiline`, tab, LF and CR are allowed. */
export function hasControlCharacter(text: string, multiline = false): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (multiline && (c === 0x09 || c === 0x0a || c === 0x0d)) continue;
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

export interface TextRule {
  readonly maxChars: number;
  /** Name of the limit, printed with it (e.g. MAX_GREETING_CHARS). */
  readonly limitName: string;
  /** Newlines and tabs allowed (instructions); otherwise one line (greetings). */
  readonly multiline?: boolean;
}

/**
 * A text value: a string, non-empty once trimmed, at most `rule.maxChars`, without control
 * characters. Returns it trimmed, or undefined after adding a problem.
 */
export function checkText(v: unknown, at: string, rule: TextRule, problems: Problems): string | undefined {
  if (typeof v !== 'string') {
    problems.add(at, `must be a string (got ${jsonType(v)})`);
    return undefined;
  }
  const text = v.trim();
  if (text === '') {
    problems.add(at, 'must not be empty (leave it out instead)');
    return undefined;
  }
  if (text.length > rule.maxChars) {
    problems.add(at, `must be at most ${rule.maxChars} characters (${rule.limitName}; got ${text.length})`);
    return undefined;
  }
  if (hasControlCharacter(text, rule.multiline)) {
    problems.add(at, rule.multiline ? 'must not hold control characters other than tab and newline' : 'must be one line of text without control characters');
    return undefined;
  }
  return text;
}

/**
 * An assistants file's parsed JSON → a frozen `Assistants`, or every problem with its JSON path:
 *
 *   { "default": "front-desk",
 *     "assistants": { "front-desk": { "instructions": "…", "voice": "marin" }, … },
 *     "numbers": { "+15005550006": "sales" } }
 *
 * Reads the profiles' instructionsFiles (relative to `dir`); nothing else touches the disk.
 */
import { isE164 } from '../config.js';
import { bracketPath, checkKeys, echo, isJsonObject, jsonType, keyPath, Problems, readObject } from '../checked-json.js';
import { frozenRecord, type Assistant, type Assistants } from './assistant.js';
import { MAX_ASSISTANT_NAME_CHARS, MAX_ASSISTANTS, MAX_NUMBERS } from './limits.js';
import { readProfile, type ProfileContext, type ProfileDefaults } from './read-profile.js';
import { BRIDGE_TOOL_NAMES } from './tool-names.js';
import { REALTIME_VOICES } from './voices.js';

export type AssistantsVerdict = { readonly ok: true; readonly assistants: Assistants } | { readonly ok: false; readonly problems: readonly string[] };

export interface ValidateOptions {
  /** The assistants file's directory: `instructionsFile` is relative to it. */
  readonly dir: string;
  /** What a profile that leaves them out gets: OPENAI_MODEL, OPENAI_VOICE (and MODEL_PRICES for OPENAI_MODEL). */
  readonly defaults: ProfileDefaults;
  /** @default BRIDGE_TOOL_NAMES (end_call, transfer_call) */
  readonly toolNames?: readonly string[];
  /** @default REALTIME_VOICES */
  readonly voices?: readonly string[];
  /** Recorded as `Assistants.source`. */
  readonly source?: string;
}

/** A profile name: a metric label, a log field and a POST /calls value. */
const NAME = new RegExp(`^[a-z0-9][a-z0-9_-]{0,${MAX_ASSISTANT_NAME_CHARS - 1}}$`);
const TOP_KEYS = ['default', 'assistants', 'numbers'] as const;

export function validateAssistants(json: unknown, opts: ValidateOptions): AssistantsVerdict {
  const problems = new Problems();
  const ctx: ProfileContext = {
    dir: opts.dir,
    defaults: opts.defaults,
    toolNames: opts.toolNames ?? BRIDGE_TOOL_NAMES,
    voices: opts.voices ?? REALTIME_VOICES,
  };
  if (!isJsonObject(json)) {
    problems.add('', `the file must hold a JSON object {"default", "assistants", "numbers"} (got ${jsonType(json)})`);
    return { ok: false, problems: problems.list() };
  }
  checkKeys(json, TOP_KEYS, '', problems);

  const profiles = new Map<string, Assistant>();
  /** Names given, valid or not: a mapping to a broken profile is that profile's problem, not "missing". */
  const named = new Set<string>();
  const list = readObject(json, 'assistants', '', problems, true);
  if (list) {
    const names = Object.keys(list);
    if (names.length === 0) problems.add('assistants', 'must hold at least one profile');
    if (names.length > MAX_ASSISTANTS) problems.add('assistants', `holds ${names.length} profiles, over ${MAX_ASSISTANTS} (MAX_ASSISTANTS)`);
    for (const name of names.slice(0, MAX_ASSISTANTS)) {
      const path = keyPath('assistants', name);
      named.add(name);
      if (!NAME.test(name)) {
        problems.add(path, `a name must be 1 to ${MAX_ASSISTANT_NAME_CHARS} of a-z, 0-9, "-" and "_", starting with a letter or digit (MAX_ASSISTANT_NAME_CHARS)`);
        continue;
      }
      const profile = readProfile(name, list[name], path, ctx, problems);
      if (profile) profiles.set(name, profile);
    }
  }

  const defaultName = json.default;
  if (defaultName === undefined) problems.add('default', 'is required: the name of the profile for unmapped numbers');
  else if (typeof defaultName !== 'string') problems.add('default', `must be a profile name (got ${jsonType(defaultName)})`);
  else if (list && !named.has(defaultName)) problems.add('default', `names missing profile ${echo(defaultName)}`);

  const numbers = new Map<string, string>();
  const map = readObject(json, 'numbers', '', problems, false);
  if (map) {
    const entries = Object.entries(map);
    if (entries.length > MAX_NUMBERS) problems.add('numbers', `maps ${entries.length} numbers, over ${MAX_NUMBERS} (MAX_NUMBERS)`);
    for (const [number, target] of entries.slice(0, MAX_NUMBERS)) {
      const path = bracketPath('numbers', number);
      if (!isE164(number)) problems.add(path, 'not E.164 (a plus, then 2 to 15 digits, such as +15551234567)');
      if (typeof target !== 'string') problems.add(path, `must be a profile name (got ${jsonType(target)})`);
      else if (list && !named.has(target)) problems.add(path, `maps to missing profile ${echo(target)}`);
      else numbers.set(number, target);
    }
  }

  if (problems.count > 0) return { ok: false, problems: problems.list() };
  return {
    ok: true,
    assistants: Object.freeze({
      default: profiles.get(defaultName as string)!,
      byName: frozenRecord(profiles),
      numbers: frozenRecord(numbers),
      source: opts.source,
    }),
  };
}

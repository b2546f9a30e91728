/**
 * One profile of an assistants file, field by field: every problem named with its JSON path,
 * every field resolved (defaults filled in), the result frozen.
 */
import { isE164 } from '../config.js';
import { checkKeys, checkText, echo, indexPath, isJsonObject, jsonType, keyPath, type JsonObject, type Problems } from '../checked-json.js';
import { readPrices, type Prices } from '../usage/prices.js';
import type { Assistant } from './assistant.js';
import { readInstructionsFile } from './instructions-file.js';
import { MAX_GREETING_CHARS, MAX_INSTRUCTIONS_CHARS, MAX_MODEL_CHARS, MAX_PATH_CHARS } from './limits.js';
import { END_CALL, TRANSFER_CALL } from './tool-names.js';

export const PROFILE_KEYS = [
  'instructions',
  'instructionsFile',
  'model',
  'voice',
  'greeting',
  'tools',
  'transferNumber',
  'language',
  'prices',
] as const;

/** What a profile is checked against. */
export interface ProfileContext {
  /** The assistants file's directory: `instructionsFile` is relative to it. */
  readonly dir: string;
  /** The bridge's tool names (`tools` is a subset). */
  readonly toolNames: readonly string[];
  /** Voices a profile may name. */
  readonly voices: readonly string[];
  /** What a profile that leaves them out gets (OPENAI_MODEL, OPENAI_VOICE, MODEL_PRICES). */
  readonly defaults: ProfileDefaults;
}

/** The environment's settings a profile falls back on. */
export interface ProfileDefaults {
  readonly model: string;
  readonly voice: string;
  /**
   * MODEL_PRICES: the prices of `model` (OPENAI_MODEL), so only a profile on that model without
   * `prices` of its own gets them; a profile on another model without prices gets no cost.
   */
  readonly prices?: Prices | undefined;
}

/** A model name: it goes into the Realtime URL's query string. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
/** ISO-639-1: two lower-case letters, what the transcription model takes. */
const LANGUAGE = /^[a-z]{2}$/;

function optionalString(o: JsonObject, key: string, path: string, problems: Problems): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    problems.add(keyPath(path, key), `must be a string (got ${jsonType(v)})`);
    return undefined;
  }
  return v;
}

function readInstructions(p: JsonObject, path: string, ctx: ProfileContext, problems: Problems): string | undefined {
  const rule = { maxChars: MAX_INSTRUCTIONS_CHARS, limitName: 'MAX_INSTRUCTIONS_CHARS', multiline: true };
  if (p.instructions !== undefined && p.instructionsFile !== undefined) {
    problems.add(path, 'give instructions or instructionsFile, not both');
    return undefined;
  }
  if (p.instructions !== undefined) return checkText(p.instructions, keyPath(path, 'instructions'), rule, problems);
  if (p.instructionsFile === undefined) {
    problems.add(path, 'instructions or instructionsFile is required');
    return undefined;
  }
  const at = keyPath(path, 'instructionsFile');
  const file = optionalString(p, 'instructionsFile', path, problems);
  if (file === undefined) return undefined;
  if (file.trim() === '' || file.length > MAX_PATH_CHARS || file.includes('\0')) {
    problems.add(at, `must be a file path of 1 to ${MAX_PATH_CHARS} characters (MAX_PATH_CHARS)`);
    return undefined;
  }
  const read = readInstructionsFile(ctx.dir, file);
  if (!read.ok) {
    problems.add(at, read.problem);
    return undefined;
  }
  return checkText(read.text, `${at} (${file})`, rule, problems);
}

function readTools(p: JsonObject, path: string, ctx: ProfileContext, problems: Problems): string[] | undefined {
  const v = p.tools;
  const at = keyPath(path, 'tools');
  if (!Array.isArray(v)) {
    problems.add(at, `must be an array of tool names (got ${jsonType(v)})`);
    return undefined;
  }
  const tools: string[] = [];
  let ok = true;
  v.forEach((name: unknown, i) => {
    const here = indexPath(at, i);
    if (typeof name !== 'string') {
      problems.add(here, `must be a tool name (got ${jsonType(name)})`);
      ok = false;
    } else if (!ctx.toolNames.includes(name)) {
      problems.add(here, `unknown tool ${echo(name)} (the bridge has: ${ctx.toolNames.join(', ')})`);
      ok = false;
    } else if (tools.includes(name)) {
      problems.add(here, `${echo(name)} is listed twice`);
      ok = false;
    } else {
      tools.push(name);
    }
  });
  return ok ? tools : undefined;
}

/** Reads profile `name` at `path`; undefined after naming its problems. */
export function readProfile(name: string, v: unknown, path: string, ctx: ProfileContext, problems: Problems): Assistant | undefined {
  if (!isJsonObject(v)) {
    problems.add(path, `must be an object (got ${jsonType(v)})`);
    return undefined;
  }
  const before = problems.count;
  checkKeys(v, PROFILE_KEYS, path, problems);
  const instructions = readInstructions(v, path, ctx, problems);

  const model = optionalString(v, 'model', path, problems);
  if (model !== undefined && (model.length > MAX_MODEL_CHARS || !MODEL_NAME.test(model))) {
    problems.add(keyPath(path, 'model'), `must be a model name of 1 to ${MAX_MODEL_CHARS} letters, digits and . _ : - (MAX_MODEL_CHARS; got ${echo(model)})`);
  }
  const voice = optionalString(v, 'voice', path, problems);
  if (voice !== undefined && !ctx.voices.includes(voice)) {
    problems.add(keyPath(path, 'voice'), `unknown voice ${echo(voice)} (one of: ${ctx.voices.join(', ')})`);
  }
  const greeting =
    v.greeting === undefined
      ? undefined
      : checkText(v.greeting, keyPath(path, 'greeting'), { maxChars: MAX_GREETING_CHARS, limitName: 'MAX_GREETING_CHARS' }, problems);
  const transferNumber = optionalString(v, 'transferNumber', path, problems);
  if (transferNumber !== undefined && !isE164(transferNumber)) {
    problems.add(keyPath(path, 'transferNumber'), `not E.164 (a plus, then 2 to 15 digits, such as +15551234567; got ${echo(transferNumber)})`);
  }
  // Left out: every tool the profile can honour, as without profiles (transfer_call needs a number).
  const tools =
    v.tools === undefined
      ? [END_CALL, ...(transferNumber !== undefined ? [TRANSFER_CALL] : [])].filter((t) => ctx.toolNames.includes(t))
      : readTools(v, path, ctx, problems);
  if (v.tools !== undefined && tools?.includes(TRANSFER_CALL) && v.transferNumber === undefined) {
    problems.add(keyPath(path, 'tools'), `"${TRANSFER_CALL}" needs transferNumber (the E.164 number it dials)`);
  }
  const language = optionalString(v, 'language', path, problems);
  if (language !== undefined && !LANGUAGE.test(language)) {
    problems.add(keyPath(path, 'language'), `must be an ISO-639-1 code of two lower-case letters such as "en" (got ${echo(language)})`);
  }
  const resolvedModel = model ?? ctx.defaults.model;
  const prices =
    v.prices === undefined
      ? resolvedModel === ctx.defaults.model
        ? ctx.defaults.prices
        : undefined
      : readPrices(v.prices, keyPath(path, 'prices'), problems);

  if (problems.count > before) return undefined;
  return Object.freeze({
    name,
    instructions: instructions!,
    model: resolvedModel,
    voice: voice ?? ctx.defaults.voice,
    greeting,
    tools: Object.freeze(tools!),
    transferNumber,
    language,
    prices,
  });
}

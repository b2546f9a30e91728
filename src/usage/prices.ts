/**
 * Model prices, as the operator gives them: US dollars per million tokens, by direction and
 * modality. Optional everywhere: without prices no cost is computed or shown (the bridge never
 * assumes a price list; OpenAI's change by model and over time).
 *
 *   { "input":  { "text": 4, "audio": 32, "cached": 0.4 },
 *     "output": { "text": 16, "audio": 64 } }
 *
 * `cached` is one price for cached text and audio input, or `{ "text": …, "audio": … }` where a
 * model prices them apart. All five are required: a partial table would give a cost that leaves
 * out some tokens without saying so.
 */
import { checkKeys, isJsonObject, jsonType, keyPath, Problems, readObject, type JsonObject } from '../checked-json.js';
import type { TokenUsage } from '../stream/realtime-usage.js';

/** Highest price accepted, in USD per million tokens: far above any listed price, so a typo (per token, per thousand) stands out. */
export const MAX_PRICE_PER_MILLION_USD = 1_000;

/** USD per million tokens; the same six classes as TokenUsage. */
export type Prices = { readonly [K in keyof TokenUsage]: number };

function price(o: JsonObject, key: string, path: string, problems: Problems): number | undefined {
  const v = o[key];
  const at = keyPath(path, key);
  if (v === undefined) {
    problems.add(at, 'is required (USD per million tokens)');
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_PRICE_PER_MILLION_USD) {
    problems.add(at, `must be a number of USD per million tokens from 0 to ${MAX_PRICE_PER_MILLION_USD} (MAX_PRICE_PER_MILLION_USD; got ${jsonType(v) === 'number' ? String(v) : jsonType(v)})`);
    return undefined;
  }
  return v;
}

/** A price table at `path`, or undefined after naming its problems. */
export function readPrices(v: unknown, path: string, problems: Problems): Prices | undefined {
  if (!isJsonObject(v)) {
    problems.add(path, `must be an object {input: {text, audio, cached}, output: {text, audio}} (got ${jsonType(v)})`);
    return undefined;
  }
  const before = problems.count;
  checkKeys(v, ['input', 'output'], path, problems);
  const input = readObject(v, 'input', path, problems, true);
  const output = readObject(v, 'output', path, problems, true);
  const inPath = keyPath(path, 'input');
  const outPath = keyPath(path, 'output');
  let inputText: number | undefined;
  let inputAudio: number | undefined;
  let cachedText: number | undefined;
  let cachedAudio: number | undefined;
  let outputText: number | undefined;
  let outputAudio: number | undefined;
  if (input) {
    checkKeys(input, ['text', 'audio', 'cached'], inPath, problems);
    inputText = price(input, 'text', inPath, problems);
    inputAudio = price(input, 'audio', inPath, problems);
    const cached = input.cached;
    if (isJsonObject(cached)) {
      const cachedPath = keyPath(inPath, 'cached');
      checkKeys(cached, ['text', 'audio'], cachedPath, problems);
      cachedText = price(cached, 'text', cachedPath, problems);
      cachedAudio = price(cached, 'audio', cachedPath, problems);
    } else {
      cachedText = cachedAudio = price(input, 'cached', inPath, problems);
    }
  }
  if (output) {
    checkKeys(output, ['text', 'audio'], outPath, problems);
    outputText = price(output, 'text', outPath, problems);
    outputAudio = price(output, 'audio', outPath, problems);
  }
  if (problems.count > before) return undefined;
  return Object.freeze({
    inputText: inputText!,
    inputAudio: inputAudio!,
    inputCachedText: cachedText!,
    inputCachedAudio: cachedAudio!,
    outputText: outputText!,
    outputAudio: outputAudio!,
  });
}

/**
 * The proposed `MODEL_PRICES` variable: the same JSON table on one line; unset or blank → no
 * prices. Returns the table, or one sentence naming every problem (config.ts's Field shape).
 */
export function parsePricesVariable(raw: string | undefined, env = 'MODEL_PRICES'): { value: Prices | undefined } | { problem: string } {
  if (raw === undefined || raw.trim() === '') return { value: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw) as unknown;
  } catch {
    return { problem: `${env} must be JSON such as {"input":{"text":4,"audio":32,"cached":0.4},"output":{"text":16,"audio":64}} (USD per million tokens)` };
  }
  const problems = new Problems();
  const prices = readPrices(parsed, env, problems);
  return prices ? { value: prices } : { problem: problems.list().join('; ') };
}

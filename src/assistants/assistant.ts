/**
 * What an assistant profile is once validated: every field resolved (a profile that leaves out
 * `model` or `voice` has OPENAI_MODEL's or OPENAI_VOICE's value here), frozen. A call takes its
 * profile once, when it is placed or answered, and keeps that object: a reload builds new
 * objects and never touches the old ones, so a live call's profile cannot change under it.
 */
import type { Prices } from '../usage/prices.js';

export interface Assistant {
  /** The profile's name: a log field and a metric label (bounded: MAX_ASSISTANTS names per file). */
  readonly name: string;
  /** session.update `instructions` (from `instructions`, or the text of `instructionsFile`). */
  readonly instructions: string;
  /** The Realtime model: the `model` query parameter of the Realtime URL. */
  readonly model: string;
  /** session.update `audio.output.voice`. */
  readonly voice: string;
  /** Spoken first by the assistant (a per-call greeting from POST /calls wins); none: the other side speaks first. */
  readonly greeting: string | undefined;
  /** Names of the bridge tools to declare (end_call, transfer_call), in order; honoured only with Twilio REST credentials. */
  readonly tools: readonly string[];
  /** E.164 number transfer_call dials; set whenever `tools` holds transfer_call. */
  readonly transferNumber: string | undefined;
  /** ISO-639-1 hint for the caller's transcription (session.update `audio.input.transcription.language`). */
  readonly language: string | undefined;
  /** USD per million tokens, for the call's estimated cost; none: no cost is shown. */
  readonly prices: Prices | undefined;
}

/** A validated set of profiles: what one assistants file (or the environment) describes. */
export interface Assistants {
  /** The profile for calls to unmapped numbers and for POST /calls without `assistant`. */
  readonly default: Assistant;
  /** Every profile by name (null prototype: a name such as "constructor" finds nothing). */
  readonly byName: Readonly<Record<string, Assistant>>;
  /** Called number (E.164) → profile name. */
  readonly numbers: Readonly<Record<string, string>>;
  /** The file it was read from; undefined when built from the environment. */
  readonly source: string | undefined;
}

/** The profile named `name`, or undefined. */
export function assistantNamed(assistants: Assistants, name: string): Assistant | undefined {
  return Object.hasOwn(assistants.byName, name) ? assistants.byName[name] : undefined;
}

/** The profile for a call to `to` (Twilio's `To`): the mapped one, else the default. */
export function assistantForNumber(assistants: Assistants, to: string | undefined): Assistant {
  if (to !== undefined && Object.hasOwn(assistants.numbers, to)) {
    const mapped = assistantNamed(assistants, assistants.numbers[to]!);
    if (mapped) return mapped;
  }
  return assistants.default;
}

/** `assistant` with other instructions (POST /calls `"instructions"`), as a new frozen profile. */
export function withInstructions(assistant: Assistant, instructions: string | undefined): Assistant {
  if (instructions === undefined) return assistant;
  return Object.freeze({ ...assistant, instructions });
}

/** Freezes a name-keyed record with a null prototype. */
export function frozenRecord<T>(entries: Iterable<readonly [string, T]>): Readonly<Record<string, T>> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, v] of entries) out[k] = v;
  return Object.freeze(out);
}

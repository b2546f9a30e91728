/**
 * The body of `POST /calls`, validated:
 * `{ "to": "+E.164", "greeting"?: "…", "assistant"?: "name", "instructions"?: "…" }`.
 * Pure: returns the request or the sentence that says what is wrong. `assistant` and
 * `instructions` are fields only when the route passes the profiles in force; without them they
 * are unknown fields, as before profiles.
 */
import { isE164 } from '../config.js';
import { echo, hasControlCharacter } from '../checked-json.js';
import { assistantNamed, withInstructions, type Assistant, type Assistants } from '../assistants/assistant.js';
import { MAX_GREETING_CHARS, MAX_OVERRIDE_INSTRUCTIONS_CHARS } from '../assistants/limits.js';

export { MAX_GREETING_CHARS, MAX_OVERRIDE_INSTRUCTIONS_CHARS };

export interface CallRequest {
  readonly to: string;
  /** Spoken first by the assistant on this call (else the profile's greeting, else the callee speaks first). */
  readonly greeting: string | undefined;
  /**
   * The call's profile: the one named by `assistant` (else the default), with `instructions` in
   * place of its own when given. Undefined when no profiles were passed.
   */
  readonly assistant: Assistant | undefined;
}

export type CallRequestVerdict = { ok: true; request: CallRequest } | { ok: false; message: string };

const BASE_FIELDS = ['to', 'greeting'];
const PROFILE_FIELDS = ['assistant', 'instructions'];
/** Profile names listed in the answer to an unknown one. */
const MAX_NAMES_SHOWN = 10;

export function parseCallRequest(body: unknown, profiles?: Assistants): CallRequestVerdict {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'the body must be a JSON object such as {"to": "+15551234567"}' };
  }
  const fields = body as Record<string, unknown>;
  const known = profiles ? [...BASE_FIELDS, ...PROFILE_FIELDS] : BASE_FIELDS;
  const unknown = Object.keys(fields).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    return { ok: false, message: `unknown field${unknown.length === 1 ? '' : 's'}: ${unknown.slice(0, 5).join(', ')} (allowed: ${known.join(', ')})` };
  }
  const { to, greeting } = fields;
  if (to === undefined) return { ok: false, message: '"to" is required: the number to call, in E.164 form such as +15551234567' };
  if (typeof to !== 'string' || !isE164(to)) {
    return { ok: false, message: '"to" must be a phone number in E.164 form such as +15551234567 (a plus, then 2 to 15 digits)' };
  }
  let assistant: Assistant | undefined;
  if (profiles) {
    const choice = parseAssistantChoice(fields, profiles);
    if (!choice.ok) return choice;
    assistant = choice.assistant;
  }
  if (greeting === undefined) return { ok: true, request: { to, greeting: undefined, assistant } };
  if (typeof greeting !== 'string') return { ok: false, message: '"greeting" must be a string' };
  const text = greeting.trim();
  if (text === '') return { ok: false, message: '"greeting" must not be empty (leave it out instead)' };
  if (text.length > MAX_GREETING_CHARS) {
    return { ok: false, message: `"greeting" must be at most ${MAX_GREETING_CHARS} characters (got ${text.length})` };
  }
  if (hasControlCharacter(text)) return { ok: false, message: '"greeting" must be one line of text without control characters' };
  return { ok: true, request: { to, greeting: text, assistant } };
}

export type AssistantChoiceVerdict = { ok: true; assistant: Assistant } | { ok: false; message: string };

/**
 * `"assistant"` (a profile name; absent: the default) and `"instructions"` (replaces the
 * profile's for this call; trimmed, at most MAX_OVERRIDE_INSTRUCTIONS_CHARS, newlines and tabs
 * allowed) → the call's profile, resolved now from `profiles`, so a reload before the call is
 * answered does not change it.
 */
export function parseAssistantChoice(fields: Record<string, unknown>, profiles: Assistants): AssistantChoiceVerdict {
  const { assistant: name, instructions } = fields;
  let assistant = profiles.default;
  if (name !== undefined) {
    if (typeof name !== 'string') return { ok: false, message: '"assistant" must be the name of a configured assistant (a string)' };
    const found = assistantNamed(profiles, name);
    if (!found) {
      const names = Object.keys(profiles.byName);
      const shown = names.slice(0, MAX_NAMES_SHOWN).join(', ') + (names.length > MAX_NAMES_SHOWN ? ', …' : '');
      return { ok: false, message: `"assistant" names no configured assistant: ${echo(name)} (configured: ${shown})` };
    }
    assistant = found;
  }
  if (instructions === undefined) return { ok: true, assistant };
  if (typeof instructions !== 'string') return { ok: false, message: '"instructions" must be a string' };
  const text = instructions.trim();
  if (text === '') return { ok: false, message: '"instructions" must not be empty (leave it out for the assistant\'s own)' };
  if (text.length > MAX_OVERRIDE_INSTRUCTIONS_CHARS) {
    return { ok: false, message: `"instructions" must be at most ${MAX_OVERRIDE_INSTRUCTIONS_CHARS} characters (got ${text.length})` };
  }
  if (hasControlCharacter(text, true)) return { ok: false, message: '"instructions" must not hold control characters other than tab and newline' };
  return { ok: true, assistant: withInstructions(assistant, text) };
}

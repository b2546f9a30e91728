/**
 * A call being recorded: its start, the turns so far and the usage summed so far, kept within
 * per-call limits (a turn over a limit is left out and counted in the record's `turnsDropped`).
 * Pure: no clock, no I/O; the recorder stamps times and decides what to do with the verdicts.
 */
import {
  cleanDigit,
  cleanLabel,
  cleanText,
  isCallDirection,
  MAX_LABEL_CHARS,
  MAX_TURN_TEXT_CHARS,
  toolText,
  type CallAudio,
  type CallDirection,
  type CallRecord,
  type TokenUsage,
  type Turn,
} from './record.js';

export interface CallLimits {
  /** Turns kept per call; later ones are counted, not kept. @default 1000 (a long call has ~200) */
  readonly maxTurns: number;
  /**
   * Characters of text kept per call, over all its turns; a turn that would pass it is counted,
   * not kept. Bounds a record's size whatever a peer sends. @default 65 536 (about an hour of speech)
   */
  readonly maxTextChars: number;
}

export const CALL_LIMITS: CallLimits = Object.freeze({ maxTurns: 1000, maxTextChars: 64 * 1024 });

/** What the session knows when a call starts. */
export interface CallStart {
  readonly direction: CallDirection;
  readonly from?: string | null;
  readonly to?: string | null;
  readonly assistant?: string | null;
  /** ms since the epoch. @default the recorder's clock */
  readonly startedAt?: number;
}

/**
 * What a stream's start says about its call: direction and the far end's number from the TwiML's
 * `<Parameter>`s (not signed by the stream token, so checked, never trusted), our number from
 * TWILIO_PHONE_NUMBER.
 */
export function callStartFrom(params: Readonly<Record<string, string>>, ourNumber: string | undefined, assistant: string): CallStart {
  const ours = ourNumber ?? null;
  const theirs = params.caller ?? null;
  const direction = isCallDirection(params.direction) ? params.direction : 'inbound';
  // A browser call (POST /calls/browser) reached no number of ours: it has a caller only.
  const to = direction === 'outbound' ? theirs : direction === 'browser' ? null : ours;
  return { direction, from: direction === 'outbound' ? ours : theirs, to, assistant };
}

/** A turn as the session reports it: `at` defaults to the recorder's clock; tool texts may be any JSON value. */
export type TurnInput =
  | { readonly kind: 'caller' | 'assistant'; readonly text: string; readonly at?: number }
  | { readonly kind: 'dtmf'; readonly digit: string; readonly at?: number }
  | { readonly kind: 'barge_in'; readonly at?: number }
  | { readonly kind: 'tool_call'; readonly name: string; readonly arguments: unknown; readonly outcome: unknown; readonly at?: number };

export type TurnVerdict = 'kept' | 'turn_limit' | 'text_limit';

/** The turn made storable (texts cleaned and cut), stamped `at`. */
export function cleanTurn(input: TurnInput, at: number): Turn {
  switch (input.kind) {
    case 'caller':
    case 'assistant':
      return { kind: input.kind, at, text: cleanText(input.text, MAX_TURN_TEXT_CHARS) };
    case 'dtmf':
      return { kind: 'dtmf', at, digit: cleanDigit(input.digit) };
    case 'barge_in':
      return { kind: 'barge_in', at };
    case 'tool_call':
      return {
        kind: 'tool_call',
        at,
        name: cleanText(input.name, MAX_LABEL_CHARS),
        arguments: toolText(input.arguments),
        outcome: toolText(input.outcome),
      };
  }
}

function textChars(turn: Turn): number {
  switch (turn.kind) {
    case 'caller':
    case 'assistant':
      return turn.text.length;
    case 'tool_call':
      return turn.name.length + turn.arguments.length + turn.outcome.length;
    case 'dtmf':
    case 'barge_in':
      return 0;
  }
}

export class OpenCall {
  readonly direction: CallDirection;
  readonly from: string | null;
  readonly to: string | null;
  readonly assistant: string | null;
  readonly startedAt: number;
  private readonly turns: Turn[] = [];
  private turnsDropped = 0;
  private chars = 0;

  constructor(
    readonly callSid: string,
    start: CallStart & { readonly startedAt: number },
    private readonly limits: CallLimits = CALL_LIMITS,
  ) {
    this.direction = start.direction;
    this.from = cleanLabel(start.from);
    this.to = cleanLabel(start.to);
    this.assistant = cleanLabel(start.assistant);
    this.startedAt = start.startedAt;
  }

  get turnCount(): number {
    return this.turns.length;
  }

  add(turn: Turn): TurnVerdict {
    if (this.turns.length >= this.limits.maxTurns) {
      this.turnsDropped += 1;
      return 'turn_limit';
    }
    const chars = textChars(turn);
    if (this.chars + chars > this.limits.maxTextChars) {
      this.turnsDropped += 1;
      return 'text_limit';
    }
    this.chars += chars;
    this.turns.push(turn);
    return 'kept';
  }

  /** The finished record. `endedAt` before `startedAt` (a clock step) gives duration 0. */
  finish(end: { readonly endedAt: number; readonly reason: string; readonly audio: CallAudio; readonly usage: TokenUsage }): CallRecord {
    return {
      callSid: this.callSid,
      direction: this.direction,
      from: this.from,
      to: this.to,
      assistant: this.assistant,
      startedAt: this.startedAt,
      endedAt: end.endedAt,
      durationMs: Math.max(0, end.endedAt - this.startedAt),
      endReason: cleanText(end.reason, MAX_LABEL_CHARS),
      turns: this.turns,
      turnsDropped: this.turnsDropped,
      audio: end.audio,
      usage: end.usage,
    };
  }
}

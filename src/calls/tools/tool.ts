/**
 * What a call-control tool is: its declaration for `session.update`, a check of the model's
 * arguments, and the work. One file per tool (see end-call.ts, transfer-call.ts); the router
 * (router.ts) dispatches the model's function calls to them.
 */
import type { Config } from '../../config.js';
import type { StreamSession } from '../../stream/session.js';
import type { ToolDeclaration } from '../../stream/realtime-events.js';
import type { TwilioRest } from '../twilio-rest.js';

/** The part of a call's session that tools use. */
export type ToolSession = Pick<
  StreamSession,
  'callSid' | 'log' | 'logBudget' | 'isClosed' | 'afterPlayout' | 'expectEnd' | 'close' | 'sendUpstream' | 'contain' | 'fail' | 'recordTurn'
>;

export interface ToolContext {
  readonly session: ToolSession;
  readonly rest: TwilioRest;
  readonly config: Config;
}

/** The answer to the model: `output` goes back as function_call_output; `respond` asks it to go on. */
export interface ToolResult {
  readonly output: unknown;
  readonly respond: boolean;
}

export type ArgsVerdict<A> = { ok: true; args: A } | { ok: false; error: string };

export interface ToolSpec<A> {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments, as the model sees it. */
  readonly parameters: Record<string, unknown>;
  /** Ends the call when it succeeds: only one such tool runs at a time per call. @default false */
  readonly endsCall?: boolean;
  /** Checks the model's arguments (already JSON-parsed); the error is told to the model. */
  parseArgs(raw: unknown): ArgsVerdict<A>;
  /** Does the work. null: the call is over and nothing is answered. */
  run(ctx: ToolContext, args: A): Promise<ToolResult | null>;
}

/** A tool with its argument type sealed in, so tools of different shapes share one registry. */
export interface CallTool {
  readonly declaration: ToolDeclaration;
  readonly endsCall: boolean;
  invoke(ctx: ToolContext, rawArgs: unknown): Promise<ToolResult | null>;
}

export function defineTool<A>(spec: ToolSpec<A>): CallTool {
  return {
    declaration: { type: 'function', name: spec.name, description: spec.description, parameters: spec.parameters },
    endsCall: spec.endsCall ?? false,
    async invoke(ctx, rawArgs) {
      const verdict = spec.parseArgs(rawArgs);
      if (!verdict.ok) return { output: { ok: false, error: verdict.error }, respond: true };
      return spec.run(ctx, verdict.args);
    },
  };
}

/** Longest free-text argument we keep (a `reason` for the log), in characters. */
export const MAX_REASON_CHARS = 200;

/** `{ reason?: string }`, the arguments of the call-ending tools. */
export function parseReason(raw: unknown): ArgsVerdict<{ reason: string | undefined }> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'arguments must be a JSON object' };
  const reason = (raw as { reason?: unknown }).reason;
  if (reason !== undefined && typeof reason !== 'string') return { ok: false, error: '"reason" must be a string' };
  return { ok: true, args: { reason: reason?.slice(0, MAX_REASON_CHARS) } };
}

/**
 * Resolves once the audio sent so far has played on the phone ('played'), the call ended
 * ('ended'), or `timeoutMs` passed ('timeout'). Leaves no timer or watcher behind.
 */
export function waitForPlayout(session: ToolSession, timeoutMs: number): Promise<'played' | 'ended' | 'timeout'> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    let settled = false;
    const stop = session.afterPlayout((played) => {
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(played ? 'played' : 'ended');
    });
    // afterPlayout answers at once when the call is already over: then no timer is needed.
    if (settled) return;
    timer = setTimeout(
      session.contain(() => {
        stop();
        resolve('timeout');
      }),
      timeoutMs,
    );
  });
}

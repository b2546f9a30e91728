/**
 * The tool registry: declarations for `session.update`, and the dispatcher the session calls
 * with each function call from the model. Every call is answered (function_call_output, then
 * response.create when the model should go on); unknown tools and bad arguments (missing, not a
 * string, too long, not JSON, not an object) get an error output and the call goes on. A tool
 * that fails unexpectedly (its promise rejects: a bug, since tools answer Twilio's refusals
 * themselves) ends its call alone with `internal_error`, through the session's fault boundary.
 */
import type { Config } from '../../config.js';
import type { ToolCall } from '../../stream/session.js';
import { functionCallOutput, RESPONSE_CREATE, type ToolDeclaration } from '../../stream/realtime-events.js';
import type { TwilioRest } from '../twilio-rest.js';
import type { CallTool, ToolResult, ToolSession } from './tool.js';

/** Longest `arguments` string parsed, in bytes: tool arguments are a few short fields. */
export const MAX_TOOL_ARGUMENT_BYTES = 16 * 1024;
/** Refused tool calls in a row that still get a new response; later ones get only the error output. @default 3 */
export const MAX_REFUSED_TOOL_CALLS_IN_A_ROW = 3;

export interface ToolRouter {
  readonly declarations: readonly ToolDeclaration[];
  readonly onToolCall: (session: ToolSession, call: ToolCall) => void;
}

export function createToolRouter(tools: readonly CallTool[], deps: { rest: TwilioRest; config: Config }): ToolRouter {
  const byName = new Map<string, CallTool>();
  for (const tool of tools) {
    if (byName.has(tool.declaration.name)) throw new Error(`two tools are named ${tool.declaration.name}`);
    byName.set(tool.declaration.name, tool);
  }
  /** Sessions where a call-ending tool is running: a second one is refused, not run twice. */
  const ending = new WeakSet<ToolSession>();
  /** Tool calls refused in a row (unknown tool, bad arguments), per session. */
  const refusedInARow = new WeakMap<ToolSession, number>();

  /**
   * Answers a refused call: an error output, and a new response only for the first few in a row,
   * so a model stuck in a loop (or a peer sending junk calls) cannot draw billed responses without end.
   */
  function refuse(session: ToolSession, call: ToolCall, error: string): void {
    const n = (refusedInARow.get(session) ?? 0) + 1;
    refusedInARow.set(session, n);
    answer(session, call, { output: { ok: false, error }, respond: n <= MAX_REFUSED_TOOL_CALLS_IN_A_ROW });
  }

  /** Answers the model, and puts the call with its outcome in the call's record. */
  function answer(session: ToolSession, call: ToolCall, result: ToolResult): void {
    if (session.isClosed) return;
    session.recordTurn({ kind: 'tool_call', name: call.name, arguments: call.arguments, outcome: result.output });
    session.sendUpstream(functionCallOutput(call.callId, result.output));
    if (result.respond) session.sendUpstream(RESPONSE_CREATE);
  }

  function onToolCall(session: ToolSession, call: ToolCall): void {
    const log = session.log.child({ tool: call.name, toolCallId: call.callId });
    const tool = byName.get(call.name);
    if (!tool) {
      if (session.logBudget.take('unknown_tool')) log.warn('the model called an unknown tool');
      refuse(session, call, `Unknown tool "${call.name}". Available: ${[...byName.keys()].join(', ') || 'none'}.`);
      return;
    }
    const args = parseArguments(call.arguments);
    if (!args.ok) {
      if (session.logBudget.take('tool_arguments_rejected')) log.warn({ error: args.error }, 'tool arguments rejected');
      refuse(session, call, args.error);
      return;
    }
    refusedInARow.delete(session);
    if (tool.endsCall) {
      if (ending.has(session)) {
        // Already hanging up or transferring: no new response, the call is about to end.
        answer(session, call, { output: { ok: false, error: 'The call is already ending.' }, respond: false });
        return;
      }
      ending.add(session);
    }
    tool.invoke({ session, rest: deps.rest, config: deps.config }, args.value).then(
      session.contain((result: ToolResult | null) => {
        if (tool.endsCall) ending.delete(session);
        if (result) answer(session, call, result);
      }),
      session.contain((err: unknown) => {
        if (tool.endsCall) ending.delete(session);
        session.fail(err);
      }),
    );
  }

  return { declarations: tools.map((t) => t.declaration), onToolCall };
}

/** The model's `arguments`: a JSON text of an object (empty text means no arguments). */
export function parseArguments(raw: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  if (raw === undefined) return { ok: false, error: 'arguments are missing' };
  if (typeof raw !== 'string') return { ok: false, error: 'arguments must be a JSON string' };
  // Characters first: a string longer than the byte limit in UTF-16 units is too long in UTF-8 too.
  if (raw.length > MAX_TOOL_ARGUMENT_BYTES || Buffer.byteLength(raw) > MAX_TOOL_ARGUMENT_BYTES) return { ok: false, error: 'arguments are too long' };
  if (raw.trim() === '') return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'arguments are not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'arguments must be a JSON object' };
  return { ok: true, value: value as Record<string, unknown> };
}

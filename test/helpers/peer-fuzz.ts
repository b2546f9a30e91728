/**
 * fast-check generators of what a misbehaving peer sends: well-formed messages of every known
 * kind with one field deleted, nulled, given a value of another type, made oversized or (for
 * audio) made non-base64; plus non-JSON text, JSON that is not an object, and binary frames.
 * Shared by the parser property tests and the fuzz test that throws them at live calls.
 */
import fc from 'fast-check';

type Obj = Record<string, unknown>;

/** One WebSocket message as a peer sends it. */
export interface FuzzFrame {
  readonly data: string | Buffer;
  readonly binary: boolean;
  /** What it is, for failure reports: `<kind> <path> <op>`. */
  readonly label: string;
}

/** A frame that fast-check prints by its label (a counterexample must not print 70 KB of payload). */
export function frame(data: string | Buffer, binary: boolean, label: string): FuzzFrame {
  return { data, binary, label, [fc.toStringMethod]: () => `${label} (${data.length} ${binary ? 'bytes' : 'chars'})` } as FuzzFrame;
}

/** Every key path in `obj` (nested objects followed; arrays are leaves). */
export function keyPaths(obj: Obj, prefix: readonly string[] = []): string[][] {
  const out: string[][] = [];
  for (const [key, value] of Object.entries(obj)) {
    const path = [...prefix, key];
    out.push(path);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) out.push(...keyPaths(value as Obj, path));
  }
  return out;
}

export type FieldOp = { readonly kind: 'delete' } | { readonly kind: 'set'; readonly value: unknown; readonly label: string };

/** A deep copy of `obj` with `op` applied at `path`. */
export function mutateAt(obj: Obj, path: readonly string[], op: FieldOp): Obj {
  const copy = structuredClone(obj);
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Obj;
  const last = path[path.length - 1] as string;
  if (op.kind === 'delete') delete parent[last];
  else parent[last] = op.value;
  return copy;
}

/** Values of every JSON type, small. */
export const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.string({ maxLength: 12 }),
  fc.constant(''),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

/** Strings past the bridge's limits: ids (256), names (64), transcripts (64 Ki characters). */
export const oversizedString: fc.Arbitrary<string> = fc.constantFrom(65, 300, 5_000, 70_000).map((n) => 'x'.repeat(n));

/** Text that Buffer.from(…, 'base64') would decode to something, but that is not strict base64. */
export const notBase64: fc.Arbitrary<string> = fc.constantFrom('', 'AAA', 'A A=', '_-8A', 'Łłłł', '****', '=AAA', 'AA==AA==', 'QUJD\n');

export const fieldOp: fc.Arbitrary<FieldOp> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<FieldOp>({ kind: 'delete' }) },
  { weight: 2, arbitrary: fc.constant<FieldOp>({ kind: 'set', value: null, label: 'null' }) },
  { weight: 3, arbitrary: junkValue.map((value): FieldOp => ({ kind: 'set', value, label: 'wrong type' })) },
  { weight: 1, arbitrary: oversizedString.map((value): FieldOp => ({ kind: 'set', value, label: `oversized ${value.length}` })) },
  { weight: 1, arbitrary: notBase64.map((value): FieldOp => ({ kind: 'set', value, label: 'not base64' })) },
);

/** A template as sent, or with one field broken. */
export function brokenMessage(kind: string, template: Obj, validWeight = 1): fc.Arbitrary<FuzzFrame> {
  const paths = keyPaths(template);
  const valid = fc.constant(frame(JSON.stringify(template), false, `${kind} as is`));
  const broken = fc.tuple(fc.constantFrom(...paths), fieldOp).map(
    ([path, op]) => frame(JSON.stringify(mutateAt(template, path, op)), false, `${kind} ${path.join('.')} ${op.kind === 'delete' ? 'missing' : op.label}`),
  );
  return validWeight > 0 ? fc.oneof({ weight: validWeight, arbitrary: valid }, { weight: 6, arbitrary: broken }) : broken;
}

/** Frames that are not a message object at all. */
export const junkFrame: fc.Arbitrary<FuzzFrame> = fc.oneof(
  fc.string({ maxLength: 40 }).map((data) => frame(data, false, 'text')),
  fc.constantFrom('{', '{"type":', '{"event":"media",', 'null', '[]', '"media"', '42').map((data) => frame(data, false, 'bad json / not an object')),
  fc.jsonValue({ maxDepth: 2 }).map((v) => frame(JSON.stringify(v), false, 'json value')),
  fc.uint8Array({ maxLength: 64 }).map((a) => frame(Buffer.from(a), true, 'binary')),
);

/** A well-formed µ-law payload, base64. */
const payload = Buffer.alloc(160, 0xff).toString('base64');

/** Well-formed Realtime server events of every type the bridge reads. */
export function realtimeTemplates(): Record<string, Obj> {
  return {
    'response.output_audio.delta': { type: 'response.output_audio.delta', item_id: 'item_fuzz', response_id: 'resp_fuzz', output_index: 0, content_index: 0, delta: payload },
    'response.output_audio.done': { type: 'response.output_audio.done', item_id: 'item_fuzz', response_id: 'resp_fuzz' },
    'input_audio_buffer.speech_started': { type: 'input_audio_buffer.speech_started', item_id: 'item_user', audio_start_ms: 40 },
    'conversation.item.input_audio_transcription.completed': { type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_user', content_index: 0, transcript: 'hello' },
    'response.output_audio_transcript.done': { type: 'response.output_audio_transcript.done', item_id: 'item_fuzz', transcript: 'hi there' },
    // An unknown tool: answered at once; end_call/transfer_call come from toolCall below.
    'response.function_call_arguments.done': { type: 'response.function_call_arguments.done', item_id: 'item_tool', call_id: 'call_fuzz', name: 'fuzz_tool', arguments: '{"a":1}' },
    'response.done': { type: 'response.done', response: { id: 'resp_fuzz', status: 'failed', status_details: { type: 'failed', error: { code: 'x' } }, output: [] } },
    error: { type: 'error', error: { type: 'invalid_request_error', code: 'fuzz', message: 'fuzz', param: null } },
    'session.created': { type: 'session.created', session: { id: 'sess_fuzz', expires_at: 4_000_000_000 } },
    'session.updated': { type: 'session.updated', session: { id: 'sess_fuzz', expires_at: 4_000_000_000 } },
  };
}

/** Any Realtime frame a broken or hostile upstream might send. */
export function realtimeFrame(): fc.Arbitrary<FuzzFrame> {
  const templates = realtimeTemplates();
  const toolCall = fc
    .record({ name: fc.constantFrom('end_call', 'transfer_call'), args: fc.oneof(fc.constant(undefined), junkValue, fc.constantFrom('{', '[]', '{"reason":7}')) })
    .map(({ name, args }) =>
      frame(
        JSON.stringify({ type: 'response.function_call_arguments.done', call_id: 'call_fuzz_tool', name, ...(args === undefined ? {} : { arguments: args }) }),
        false,
        `${name} with arguments ${JSON.stringify(args)?.slice(0, 20)}`,
      ),
    );
  const expired = frame(
    JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', code: 'session_expired', message: 'Your session hit the maximum duration of 60 minutes.' } }),
    false,
    'session_expired',
  );
  // Weights per frame: events that end the call on purpose (a usable end_call, session_expired)
  // stay rare, so most batches hit a call that is still live.
  return fc.oneof(
    { weight: 400, arbitrary: fc.oneof(...Object.entries(templates).map(([kind, t]) => brokenMessage(kind, t))) },
    { weight: 60, arbitrary: junkFrame },
    { weight: 10, arbitrary: toolCall },
    { weight: 20, arbitrary: fc.constant(frame(JSON.stringify({ type: 'rate_limits.updated', rate_limits: 7 }), false, 'unknown type')) },
    { weight: 1, arbitrary: fc.constant(expired) },
  );
}

/** Well-formed Twilio frames (after start) of every inbound kind. */
export function twilioTemplates(streamSid: string, callSid: string, accountSid: string): Record<string, Obj> {
  return {
    connected: { event: 'connected', protocol: 'Call', version: '1.0.0' },
    start: {
      event: 'start',
      sequenceNumber: '1',
      streamSid,
      start: { accountSid, streamSid, callSid, tracks: ['inbound'], customParameters: { token: 'x' }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
    },
    media: { event: 'media', sequenceNumber: '9', streamSid, media: { track: 'inbound', chunk: '8', timestamp: '160', payload } },
    mark: { event: 'mark', sequenceNumber: '10', streamSid, mark: { name: 'fuzz-mark' } },
    dtmf: { event: 'dtmf', sequenceNumber: '11', streamSid, dtmf: { track: 'inbound_track', digit: '5' } },
    stop: { event: 'stop', sequenceNumber: '12', streamSid, stop: { accountSid, callSid } },
  };
}

/** Any Twilio frame a broken or hostile media stream might send (a valid stop is rare). */
export function twilioFrame(streamSid: string, callSid: string, accountSid: string): fc.Arbitrary<FuzzFrame> {
  const { stop, ...rest } = twilioTemplates(streamSid, callSid, accountSid);
  return fc.oneof(
    { weight: 60, arbitrary: fc.oneof(...Object.entries(rest).map(([kind, t]) => brokenMessage(kind, t))) },
    { weight: 2, arbitrary: brokenMessage('stop', stop as Obj, 0) },
    { weight: 15, arbitrary: junkFrame },
    { weight: 1, arbitrary: fc.constant(frame(JSON.stringify({ event: 'media', streamSid, media: { timestamp: '1', payload: 'A'.repeat(70_000) } }), false, 'over 64 KiB')) },
  );
}

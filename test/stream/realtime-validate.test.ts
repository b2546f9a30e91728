import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  KNOWN_SERVER_EVENT_TYPES,
  MAX_AUDIO_DELTA_BYTES,
  MAX_ID_CHARS,
  MAX_TOOL_NAME_CHARS,
  MAX_TRANSCRIPT_CHARS,
  parseServerEvent,
  type KnownServerEventType,
} from '../../src/stream/realtime-validate.js';
import { realtimeFrame } from '../helpers/peer-fuzz.js';

const text = (v: unknown) => JSON.stringify(v);
const AUDIO = Buffer.from([0xff, 0x7f, 0x00, 0x80, 0x12]);

describe('parseServerEvent: valid events', () => {
  it('decodes an audio delta once, keeping item and response ids', () => {
    const verdict = parseServerEvent(Buffer.from(text({ type: 'response.output_audio.delta', item_id: 'item_1', response_id: 'resp_1', delta: AUDIO.toString('base64') })));
    expect(verdict).toEqual({ ok: true, event: { type: 'response.output_audio.delta', item_id: 'item_1', response_id: 'resp_1', audio: AUDIO } });
  });

  it('reads every other known type into its typed shape', () => {
    const cases: [unknown, unknown][] = [
      [{ type: 'response.output_audio.done', item_id: 'i' }, { type: 'response.output_audio.done', item_id: 'i' }],
      [{ type: 'input_audio_buffer.speech_started', audio_start_ms: 120, item_id: 'i' }, { type: 'input_audio_buffer.speech_started', item_id: 'i', audio_start_ms: 120 }],
      [{ type: 'conversation.item.input_audio_transcription.completed', transcript: 'hi' }, { type: 'conversation.item.input_audio_transcription.completed', transcript: 'hi' }],
      [{ type: 'response.output_audio_transcript.done', transcript: '' }, { type: 'response.output_audio_transcript.done', transcript: '' }],
      [
        { type: 'response.function_call_arguments.done', call_id: 'c', name: 'end_call', arguments: '{}' },
        { type: 'response.function_call_arguments.done', call_id: 'c', name: 'end_call', arguments: '{}' },
      ],
      // Arguments are the tool router's to judge: passed on as received, even when absent.
      [{ type: 'response.function_call_arguments.done', call_id: 'c', name: 'end_call' }, { type: 'response.function_call_arguments.done', call_id: 'c', name: 'end_call' }],
      [{ type: 'response.done' }, { type: 'response.done' }],
      [
        { type: 'response.done', response: { id: 'r', status: 'failed', status_details: { error: { code: 'x' } }, output: [] } },
        { type: 'response.done', response: { id: 'r', status: 'failed', status_details: { error: { code: 'x' } } } },
      ],
      [
        { type: 'error', error: { type: 'invalid_request_error', code: 'session_expired', message: 'm', param: null } },
        { type: 'error', error: { type: 'invalid_request_error', code: 'session_expired', message: 'm', param: null } },
      ],
      [{ type: 'session.created', session: { id: 's', expires_at: 1_900_000_000 } }, { type: 'session.created', session: { expires_at: 1_900_000_000 } }],
      [{ type: 'session.updated', session: { expires_at: null } }, { type: 'session.updated', session: {} }],
      [{ type: 'rate_limits.updated', rate_limits: [] }, { type: 'other', originalType: 'rate_limits.updated' }],
    ];
    for (const [input, event] of cases) {
      const verdict = parseServerEvent(text(input));
      expect(verdict.ok, text(input)).toBe(true);
      // toMatchObject: optional fields the input lacked come back as undefined keys.
      expect(verdict).toMatchObject({ ok: true, event });
    }
  });
});

describe('parseServerEvent: invalid messages', () => {
  it('refuses binary frames, non-JSON, non-objects and objects without a string type', () => {
    expect(parseServerEvent(Buffer.from(text({ type: 'response.done' })), true)).toEqual({ ok: false, type: 'none', reason: 'binary' });
    expect(parseServerEvent('{"type":')).toEqual({ ok: false, type: 'none', reason: 'bad_json' });
    expect(parseServerEvent(Buffer.from([0xff, 0xfe, 0x00]))).toEqual({ ok: false, type: 'none', reason: 'bad_json' });
    for (const v of ['[]', '"x"', '42', 'null', '[{"type":"error"}]']) expect(parseServerEvent(v)).toMatchObject({ ok: false, type: 'none', reason: 'not_object' });
    for (const v of ['{}', '{"type":5}', '{"type":null}', '{"type":["error"]}']) expect(parseServerEvent(v)).toMatchObject({ ok: false, type: 'none', reason: 'no_type' });
  });

  it('refuses audio that is empty, not strict base64 or over MAX_AUDIO_DELTA_BYTES', () => {
    const delta = (d: unknown) => parseServerEvent(text({ type: 'response.output_audio.delta', item_id: 'i', delta: d }));
    for (const bad of ['', 'AAA', 'AA=A', 'A A=', '_-8A', 'Łłłł', '****']) {
      expect(delta(bad), bad).toEqual({ ok: false, type: 'response.output_audio.delta', reason: 'bad_base64', field: 'delta' });
    }
    expect(delta(Buffer.alloc(MAX_AUDIO_DELTA_BYTES).toString('base64')).ok).toBe(true);
    expect(delta(Buffer.alloc(MAX_AUDIO_DELTA_BYTES + 3).toString('base64'))).toMatchObject({ ok: false, reason: 'too_long' });
    expect(delta(undefined)).toMatchObject({ ok: false, reason: 'missing', field: 'delta' });
    expect(delta(12)).toMatchObject({ ok: false, reason: 'wrong_type', field: 'delta' });
  });

  it('refuses strings over their named limits', () => {
    const long = (n: number) => 'x'.repeat(n + 1);
    const cases: [unknown, string][] = [
      [{ type: 'response.output_audio.delta', item_id: long(MAX_ID_CHARS), delta: 'AAAA' }, 'item_id'],
      [{ type: 'response.output_audio_transcript.done', transcript: long(MAX_TRANSCRIPT_CHARS) }, 'transcript'],
      [{ type: 'response.function_call_arguments.done', call_id: 'c', name: long(MAX_TOOL_NAME_CHARS), arguments: '{}' }, 'name'],
      [{ type: 'response.function_call_arguments.done', call_id: long(MAX_ID_CHARS), name: 'end_call', arguments: '{}' }, 'call_id'],
    ];
    for (const [input, field] of cases) expect(parseServerEvent(text(input))).toMatchObject({ ok: false, reason: 'too_long', field });
  });

  it('names a nested field by its path', () => {
    expect(parseServerEvent(text({ type: 'error', error: { code: 5 } }))).toEqual({ ok: false, type: 'error', reason: 'wrong_type', field: 'error.code' });
    expect(parseServerEvent(text({ type: 'response.done', response: { status: [] } }))).toMatchObject({ field: 'response.status' });
    expect(parseServerEvent(text({ type: 'session.updated', session: { expires_at: '1' } }))).toMatchObject({ field: 'session.expires_at' });
  });
});

// ---- properties ---------------------------------------------------------------------------------

type FieldKind = 'string' | 'number' | 'object';
interface FieldSpec {
  /** Path in the event, e.g. ['error', 'code']. */
  readonly path: readonly string[];
  readonly kind: FieldKind;
  readonly required: boolean;
  /** null is a documented value (error.code, error.param, session.expires_at). */
  readonly nullable?: boolean;
}
interface Template {
  readonly event: Record<string, unknown>;
  readonly fields: readonly FieldSpec[];
}

const f = (path: string, kind: FieldKind, required: boolean, nullable = false): FieldSpec => ({ path: path.split('.'), kind, required, nullable });

/** A well-formed event of each type the bridge reads, and the fields it checks. */
const TEMPLATES: Record<KnownServerEventType, Template> = {
  'response.output_audio.delta': {
    event: { type: 'response.output_audio.delta', item_id: 'item_1', response_id: 'resp_1', delta: AUDIO.toString('base64') },
    fields: [f('item_id', 'string', true), f('response_id', 'string', false), f('delta', 'string', true)],
  },
  'response.output_audio.done': { event: { type: 'response.output_audio.done', item_id: 'item_1' }, fields: [f('item_id', 'string', false)] },
  'input_audio_buffer.speech_started': {
    event: { type: 'input_audio_buffer.speech_started', item_id: 'item_2', audio_start_ms: 40 },
    fields: [f('item_id', 'string', false), f('audio_start_ms', 'number', false)],
  },
  'conversation.item.input_audio_transcription.completed': {
    event: { type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_2', transcript: 'hello' },
    fields: [f('item_id', 'string', false), f('transcript', 'string', true)],
  },
  'response.output_audio_transcript.done': {
    event: { type: 'response.output_audio_transcript.done', item_id: 'item_1', transcript: 'hi there' },
    fields: [f('item_id', 'string', false), f('transcript', 'string', true)],
  },
  'response.function_call_arguments.done': {
    event: { type: 'response.function_call_arguments.done', call_id: 'call_1', name: 'end_call', arguments: '{}' },
    fields: [f('call_id', 'string', true), f('name', 'string', true)],
  },
  'response.done': {
    event: { type: 'response.done', response: { id: 'resp_1', status: 'completed' } },
    fields: [f('response', 'object', false), f('response.id', 'string', false), f('response.status', 'string', false)],
  },
  error: {
    event: { type: 'error', error: { type: 'server_error', code: 'x', message: 'm', param: null } },
    fields: [
      f('error', 'object', true),
      f('error.type', 'string', false),
      f('error.code', 'string', false, true),
      f('error.message', 'string', false),
      f('error.param', 'string', false, true),
    ],
  },
  'session.created': {
    event: { type: 'session.created', session: { id: 'sess_1', expires_at: 1_900_000_000 } },
    fields: [f('session', 'object', true), f('session.expires_at', 'number', false, true)],
  },
  'session.updated': {
    event: { type: 'session.updated', session: { id: 'sess_1', expires_at: 1_900_000_000 } },
    fields: [f('session', 'object', true), f('session.expires_at', 'number', false, true)],
  },
};

const wrongValue = (kind: FieldKind): fc.Arbitrary<unknown> => {
  const all: Record<FieldKind | 'boolean' | 'array', fc.Arbitrary<unknown>> = {
    string: fc.string({ maxLength: 8 }),
    // Finite: JSON.stringify writes NaN and ±Infinity as null.
    number: fc.double({ noNaN: true, noDefaultInfinity: true }),
    object: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    boolean: fc.boolean(),
    array: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  };
  return fc.oneof(...Object.entries(all).filter(([k]) => k !== kind).map(([, arb]) => arb));
};

type Mutation = { kind: 'missing' } | { kind: 'null' } | { kind: 'wrong'; value: unknown };

function mutate(event: Record<string, unknown>, path: readonly string[], m: Mutation): Record<string, unknown> {
  const copy = structuredClone(event);
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  const last = path[path.length - 1] as string;
  if (m.kind === 'missing') delete parent[last];
  else parent[last] = m.kind === 'null' ? null : m.value;
  return copy;
}

const mutationCase = fc
  .constantFrom(...KNOWN_SERVER_EVENT_TYPES)
  .chain((type) => fc.constantFrom(...TEMPLATES[type].fields).map((field) => ({ type, field })))
  .chain(({ type, field }) =>
    fc
      .oneof(
        fc.constant<Mutation>({ kind: 'missing' }),
        fc.constant<Mutation>({ kind: 'null' }),
        wrongValue(field.kind).map((value): Mutation => ({ kind: 'wrong', value })),
      )
      .map((mutation) => ({ type, field, mutation })),
  );

describe('parseServerEvent properties', () => {
  it('never throws on arbitrary text, bytes, JSON, or known types with arbitrary fields', () => {
    const known = fc.constantFrom(...KNOWN_SERVER_EVENT_TYPES);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc
            .record({
              type: fc.oneof(known, fc.anything()),
              item_id: fc.anything(),
              response_id: fc.anything(),
              delta: fc.oneof(fc.base64String(), fc.anything()),
              transcript: fc.anything(),
              call_id: fc.anything(),
              name: fc.anything(),
              arguments: fc.anything(),
              response: fc.anything(),
              error: fc.anything(),
              session: fc.anything(),
              audio_start_ms: fc.anything(),
            }, { requiredKeys: ['type'] })
            .map((v) => JSON.stringify(v) ?? 'null'),
        ),
        fc.boolean(),
        (data, isBinary) => {
          const verdict = parseServerEvent(data, isBinary);
          expect(typeof verdict.ok).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses any checked field missing, null or ill-typed with the field’s type and reason; optional ones may be absent', () => {
    fc.assert(
      fc.property(mutationCase, ({ type, field, mutation }) => {
        const verdict = parseServerEvent(JSON.stringify(mutate(TEMPLATES[type].event, field.path, mutation)));
        const acceptable = mutation.kind === 'missing' ? !field.required : mutation.kind === 'null' ? field.nullable === true : false;
        if (acceptable) {
          expect(verdict.ok).toBe(true);
          return;
        }
        const reason = mutation.kind === 'wrong' || (mutation.kind === 'null' && !field.required) ? 'wrong_type' : 'missing';
        expect(verdict).toMatchObject({ ok: false, type, reason });
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on the frames the peer fuzz test throws at live calls', () => {
    fc.assert(
      fc.property(realtimeFrame(), (frame) => {
        expect(typeof parseServerEvent(frame.data, frame.binary).ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('hands back exactly the bytes of any valid delta', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), fc.string({ minLength: 1, maxLength: 40 }), (bytes, itemId) => {
        const verdict = parseServerEvent(JSON.stringify({ type: 'response.output_audio.delta', item_id: itemId, delta: Buffer.from(bytes).toString('base64') }));
        expect(verdict.ok).toBe(true);
        if (verdict.ok && verdict.event.type === 'response.output_audio.delta') expect(verdict.event.audio.equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });
});

// One call's page (GET /calls/:callSid): who, when, how it ended, the conversation in order
// (caller and assistant, keys, barge-ins, tool calls with arguments and outcome), the audio each
// way with its drops, and the model's tokens. A call still in progress has no record yet: the
// page says so and looks again every 2 s.
import { api, ApiError, describe } from './api.js';
import { definitions, h, link, show } from './dom.js';
import { audioSeconds, count, duration, endReason, offset, party, prettyJson, when } from './format.js';

const CALL_SID = /^[A-Za-z0-9]{1,64}$/;
/** How often a call without a record yet is asked for again, ms. */
const RETRY_MS = 2000;

export function callView(main, { signal, callSid }) {
  const back = h('p', {}, link('/history', '← History'));
  if (!CALL_SID.test(callSid)) {
    show(main, back, h('section', { class: 'card' }, h('h1', {}, 'Not a CallSid')));
    return;
  }
  const status = h('p', { class: 'muted', id: 'call-status' }, 'Loading…');
  show(main, back, h('section', { class: 'card' }, h('h1', {}, 'Call ', h('span', { class: 'sid' }, callSid)), status));

  let timer;
  signal.addEventListener('abort', () => clearTimeout(timer));
  const load = async () => {
    try {
      const record = await api.call(callSid, signal);
      show(main, back, ...render(record));
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.reason === 'unknown_call') {
        status.textContent = 'No record of this call yet: a call is recorded once it has ended. Looking again…';
        timer = setTimeout(load, RETRY_MS);
        return;
      }
      status.textContent = describe(err);
    }
  };
  void load();
}

function render(call) {
  const summary = h(
    'section',
    { class: 'card', id: 'call-summary' },
    h('h1', {}, 'Call ', h('span', { class: 'sid' }, call.callSid), ' ', h('span', { class: `badge ${call.direction}` }, call.direction)),
    definitions([
      ['From', party(call.from)],
      ['To', party(call.to)],
      ['Assistant', party(call.assistant)],
      ['Started', when(call.startedAt)],
      ['Duration', duration(call.durationMs)],
      ['Ended', endReason(call.endReason)],
    ], { class: 'facts' }),
  );
  const conversation = h(
    'section',
    { class: 'card' },
    h('h2', {}, 'Conversation'),
    call.turns.length === 0 ? h('p', { class: 'muted' }, 'Nothing was said.') : h('ol', { class: 'conversation', id: 'conversation' }, call.turns.map((t) => turn(t, call.startedAt))),
    call.turnsDropped > 0 ? h('p', { class: 'muted' }, `${count(call.turnsDropped)} more turns were not kept (the per-call limit).`) : null,
  );
  const figures = h(
    'section',
    { class: 'card', id: 'call-figures' },
    h('h2', {}, 'Audio'),
    h(
      'table',
      { class: 'figures' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), ['Frames', 'Audio', 'Dropped', 'Discarded'].map((t) => h('th', { class: 'num' }, t)))),
      h('tbody', {}, flow('Caller → model', call.audio.toModel), flow('Model → caller', call.audio.toCaller)),
    ),
    h('h2', {}, 'Tokens'),
    definitions([
      ['Responses', count(call.usage.responses)],
      ['Input', `${count(call.usage.input.total)} (text ${count(call.usage.input.text)}, audio ${count(call.usage.input.audio)}, cached ${count(call.usage.input.cached)})`],
      ['Output', `${count(call.usage.output.total)} (text ${count(call.usage.output.text)}, audio ${count(call.usage.output.audio)})`],
    ], { class: 'facts' }),
  );
  return [summary, conversation, figures];
}

function flow(label, f) {
  const dropped = f.droppedFrames > 0 ? `${count(f.droppedFrames)} frames (${audioSeconds(f.droppedBytes)})` : 'none';
  return h(
    'tr',
    {},
    h('th', {}, label),
    h('td', { class: 'num' }, count(f.frames)),
    h('td', { class: 'num' }, audioSeconds(f.bytes)),
    h('td', { class: f.droppedFrames > 0 ? 'num warn' : 'num' }, dropped),
    h('td', { class: 'num' }, f.discardedBytes > 0 ? audioSeconds(f.discardedBytes) : 'none'),
  );
}

function turn(t, startedAt) {
  const at = h('span', { class: 'at' }, offset(t.at - startedAt));
  switch (t.kind) {
    case 'caller':
      return h('li', { class: 'turn caller' }, h('div', { class: 'who' }, 'Caller ', at), h('p', { class: 'text' }, t.text));
    case 'assistant':
      return h('li', { class: 'turn assistant' }, h('div', { class: 'who' }, 'Assistant ', at), h('p', { class: 'text' }, t.text));
    case 'dtmf':
      return h('li', { class: 'event' }, at, ' The caller pressed ', h('kbd', {}, t.digit));
    case 'barge_in':
      return h('li', { class: 'event' }, at, ' The caller spoke over the assistant: its audio was cleared');
    case 'tool_call':
      return h(
        'li',
        { class: 'tool' },
        h('div', { class: 'who' }, 'Tool call ', h('code', {}, t.name), ' ', at),
        h('div', { class: 'label' }, 'Arguments'),
        h('pre', {}, prettyJson(t.arguments)),
        h('div', { class: 'label' }, 'Outcome'),
        h('pre', {}, prettyJson(t.outcome)),
      );
    default:
      return h('li', { class: 'event' }, at, ` ${String(t.kind)}`);
  }
}

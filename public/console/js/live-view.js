// Live calls: this instance's calls in progress (GET /calls/live), polled every 2 s while shown.
import { api, describe } from './api.js';
import { h, link, show } from './dom.js';
import { clock, duration, party } from './format.js';

/** How often the list is refreshed, ms. */
export const LIVE_POLL_MS = 2000;

export function liveView(main, { signal }) {
  const status = h('p', { class: 'muted', id: 'live-status' }, 'Loading…');
  const rows = h('tbody', { id: 'live-calls' });
  show(
    main,
    h(
      'section',
      { class: 'card' },
      h('h1', {}, 'Calls in progress'),
      status,
      h('table', { class: 'calls' }, h('thead', {}, h('tr', {}, ['Call', 'Direction', 'From', 'To', 'Assistant', 'Started'].map((t) => h('th', {}, t)), h('th', { class: 'num' }, 'Elapsed'))), rows),
    ),
  );

  let timer;
  signal.addEventListener('abort', () => clearTimeout(timer));
  const poll = async () => {
    try {
      const { calls } = await api.live(signal);
      show(rows, calls.length === 0 ? h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No calls in progress.')) : calls.map(row));
      status.textContent = `${calls.length === 1 ? '1 call' : `${calls.length} calls`} in progress · updated ${clock(Date.now())}`;
    } catch (err) {
      if (signal.aborted) return;
      status.textContent = describe(err);
    }
    if (!signal.aborted) timer = setTimeout(poll, LIVE_POLL_MS);
  };
  void poll();
}

function row(call) {
  return h(
    'tr',
    { dataset: { callSid: call.callSid } },
    h('td', { class: 'sid' }, link(`/calls/${encodeURIComponent(call.callSid)}`, call.callSid)),
    h('td', {}, h('span', { class: `badge ${call.direction}` }, call.direction)),
    h('td', {}, party(call.from)),
    h('td', {}, party(call.to)),
    h('td', {}, party(call.assistant)),
    h('td', {}, clock(call.startedAt)),
    h('td', { class: 'num' }, duration(call.elapsedMs)),
  );
}

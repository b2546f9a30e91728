// The history (GET /calls): newest first, searched by number and direction, paged with the API's
// cursor ("Older calls"). The search lives in this module, not in the URL: numbers are callers'.
import { api, describe } from './api.js';
import { h, link, show } from './dom.js';
import { duration, party, when } from './format.js';

/** Calls per page. */
const PAGE = 25;
/** What the API accepts for `number`: digits, optionally after a +. */
const NUMBER = /^\+?[0-9]{1,20}$/;

const search = { number: '', direction: '' };

export function historyView(main, { signal }) {
  const number = h('input', { type: 'search', name: 'number', id: 'history-number', placeholder: '+15551234567', inputmode: 'tel', autocomplete: 'off', value: search.number });
  const direction = h(
    'select',
    { name: 'direction', id: 'history-direction' },
    [['', 'All directions'], ['inbound', 'Inbound'], ['outbound', 'Outbound'], ['browser', 'Browser']].map(([value, label]) =>
      h('option', { value, selected: value === search.direction }, label),
    ),
  );
  const status = h('p', { class: 'muted', id: 'history-status' });
  const rows = h('tbody', { id: 'history-calls' });
  const more = h('button', { type: 'button', class: 'quiet', hidden: true }, 'Older calls');
  const form = h(
    'form',
    { class: 'search', role: 'search' },
    h('label', {}, 'Number ', number),
    h('label', {}, 'Direction ', direction),
    h('button', { type: 'submit' }, 'Search'),
  );
  show(
    main,
    h(
      'section',
      { class: 'card' },
      h('h1', {}, 'Call history'),
      form,
      status,
      h('table', { class: 'calls' }, h('thead', {}, h('tr', {}, ['Started', 'Call', 'Direction', 'From', 'To', 'Assistant', 'Duration', 'Ended', 'Turns'].map((t) => h('th', { class: t === 'Duration' || t === 'Turns' ? 'num' : undefined }, t)))), rows),
      more,
    ),
  );

  let next = null;
  const load = async (append) => {
    const query = { limit: String(PAGE) };
    const digits = search.number.replace(/[\s().-]/g, '');
    if (digits !== '') {
      if (!NUMBER.test(digits)) {
        status.textContent = 'A number is 1 to 20 digits, optionally after a +.';
        return;
      }
      query.number = digits;
    }
    if (search.direction !== '') query.direction = search.direction;
    if (append && next) query.before = next;
    status.textContent = 'Loading…';
    try {
      const page = await api.history(query, signal);
      if (!append) rows.replaceChildren();
      for (const call of page.calls) rows.append(row(call));
      if (rows.childElementCount === 0) rows.append(h('tr', {}, h('td', { colspan: 9, class: 'empty' }, 'No calls found.')));
      next = page.next;
      more.hidden = !next;
      status.textContent = '';
    } catch (err) {
      if (!signal.aborted) status.textContent = describe(err);
    }
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    search.number = number.value.trim();
    search.direction = direction.value;
    void load(false);
  });
  more.addEventListener('click', () => void load(true));
  void load(false);
}

function row(call) {
  const path = `/calls/${encodeURIComponent(call.callSid)}`;
  return h(
    'tr',
    { dataset: { callSid: call.callSid }, class: 'link-row', onclick: () => (location.hash = path) },
    h('td', {}, when(call.startedAt)),
    h('td', { class: 'sid' }, link(path, call.callSid)),
    h('td', {}, h('span', { class: `badge ${call.direction}` }, call.direction)),
    h('td', {}, party(call.from)),
    h('td', {}, party(call.to)),
    h('td', {}, party(call.assistant)),
    h('td', { class: 'num' }, duration(call.durationMs)),
    h('td', {}, call.endReason),
    h('td', { class: 'num' }, String(call.turnCount)),
  );
}

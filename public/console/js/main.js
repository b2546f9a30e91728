// The console's entry: asks for the API token once (kept in this tab's sessionStorage), then
// routes on the URL's hash: #/live, #/history, #/calls/<CallSid>. The softphone sits in the
// header and lives across views. Nothing here writes markup: see dom.js.
import { api, describe, request, token, whenTokenRefused } from './api.js';
import { h, show } from './dom.js';
import { liveView } from './live-view.js';
import { historyView } from './history-view.js';
import { callView } from './call-view.js';
import { softphone } from './softphone.js';

const main = document.getElementById('view');
const login = document.getElementById('login');
const shell = document.getElementById('shell');
let current = null;
let phoneReady = false;

function route() {
  current?.abort();
  current = new AbortController();
  const { signal } = current;
  const path = location.hash.replace(/^#/, '') || '/live';
  const call = /^\/calls\/([^/]+)$/.exec(path);
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', path.startsWith(a.getAttribute('href').slice(1)));
  if (call) {
    let callSid;
    try {
      callSid = decodeURIComponent(call[1]);
    } catch {
      callSid = '';
    }
    callView(main, { signal, callSid });
  } else if (path === '/history') historyView(main, { signal });
  else liveView(main, { signal });
  main.focus({ preventScroll: true });
}

function showConsole() {
  login.hidden = true;
  shell.hidden = false;
  if (!phoneReady) {
    softphone(document.getElementById('softphone'));
    phoneReady = true;
  }
  route();
}

function askForToken(message) {
  current?.abort();
  shell.hidden = true;
  login.hidden = false;
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const note = h('p', { class: 'error', id: 'login-error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    { id: 'login-form' },
    h('h1', {}, 'voice-bridge console'),
    h('p', {}, 'Enter the bridge\'s API token (API_TOKEN). It is kept in this tab only, and sent only in the Authorization header.'),
    h('label', {}, 'API token ', input),
    h('button', { type: 'submit', class: 'primary' }, 'Open the console'),
    note,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (value === '') return;
    note.textContent = 'Checking…';
    try {
      await request('/calls/live', { bearer: value });
      token.set(value);
      showConsole();
    } catch (err) {
      note.textContent = err.status === 401 ? 'The bridge refused this token.' : describe(err);
    }
  });
  show(login, form);
  input.focus();
}

whenTokenRefused(() => {
  if (!token.get()) return;
  token.forget();
  askForToken('The bridge refused the token; enter it again.');
});

document.getElementById('forget-token').addEventListener('click', () => {
  token.forget();
  askForToken();
});
window.addEventListener('hashchange', () => {
  if (token.get()) route();
});

if (token.get()) showConsole();
else askForToken();

// For the console's own tests and people debugging: nothing secret.
export { api };

// The call-record API, with the API token from this tab's sessionStorage. The token goes only in
// the Authorization header, never in a URL; it is forgotten when the tab closes or on "Forget
// token", and at once when the bridge says it is wrong.

const TOKEN_KEY = 'voice-bridge.api-token';

export class ApiError extends Error {
  constructor(status, reason, message) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  forget: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** Listeners told when the bridge refuses the token (the page then asks for it again). */
const onRefused = new Set();
export function whenTokenRefused(listener) {
  onRefused.add(listener);
}

/** GET or POST `path` (same origin) with the token; the JSON answer, or an ApiError. */
export async function request(path, { method = 'GET', signal, bearer = token.get() } = {}) {
  if (!bearer) throw new ApiError(401, 'missing_token', 'no API token');
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'unreachable', 'the bridge did not answer');
  }
  let body;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok) return body;
  const reason = body && typeof body.reason === 'string' ? body.reason : `http_${response.status}`;
  const message = body && typeof body.message === 'string' ? body.message : `${response.status} ${response.statusText}`;
  if (response.status === 401) for (const listener of onRefused) listener(reason);
  throw new ApiError(response.status, reason, message);
}

export const api = {
  live: (signal) => request('/calls/live', { signal }),
  history: (query, signal) => request(`/calls?${new URLSearchParams(query)}`, { signal }),
  call: (callSid, signal) => request(`/calls/${encodeURIComponent(callSid)}`, { signal }),
  startBrowserCall: () => request('/calls/browser', { method: 'POST' }),
};

/** What to tell a person about an API failure. */
export function describe(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) return 'The bridge refuses this address for now (too many wrong tokens or requests); wait a minute.';
    if (err.reason === 'records_off') return 'Call records are off on this bridge (CALL_RECORDS=off).';
    return err.message;
  }
  return String(err && err.message ? err.message : err);
}

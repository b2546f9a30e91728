/**
 * A local stand-in for Twilio's REST API (HTTP on 127.0.0.1:<random port>), reached through
 * TWILIO_API_BASE_URL. It checks Basic auth like Twilio, records every request with its form
 * fields, answers Calls create/update with Twilio's JSON shapes, and can be told to fail the way
 * Twilio fails (`{code, message, more_info, status}`). Plain TypeScript, no test-runner imports.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Recorder } from './recorder.js';

export interface RestRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Form fields, first value of each (Twilio's own parameters never repeat, except events). */
  readonly form: Readonly<Record<string, string>>;
  /** Every value of every form field, in order (e.g. StatusCallbackEvent × 4). */
  readonly formAll: Readonly<Record<string, string[]>>;
  /** Whether Basic auth matched the account. */
  readonly authorized: boolean;
  /** The call the path names (update), or the one created. */
  readonly callSid: string | undefined;
}

export interface TwilioErrorReply {
  readonly status: number;
  readonly code: number;
  readonly message: string;
}

/**
 * Ways to misbehave, as a broken proxy, an overloaded Twilio or a bad network would:
 * - `raw`: this status and body verbatim (invalid JSON, `null`, an HTML 500 page, `{}`);
 * - `cut`: this status and headers announcing a JSON body, half of it, then the socket destroyed;
 * - `reset`: the socket destroyed before any answer;
 * - `hang`: no answer at all (until close()); the request is recorded.
 */
export type Misbehaviour =
  | { readonly kind: 'raw'; readonly status: number; readonly body: string; readonly contentType?: string }
  | { readonly kind: 'cut'; readonly status: number }
  | { readonly kind: 'reset' }
  | { readonly kind: 'hang' };

export interface FakeTwilioRestOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** Delay before each answer, ms. @default 0 */
  readonly delayMs?: number;
}

/** Largest request body read, in bytes: REST forms are small. */
const BODY_LIMIT_BYTES = 64 * 1024;
const CALLS = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\.json$/;
const CALL = /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/([^/]+)\.json$/;

export class FakeTwilioRest {
  /** http://127.0.0.1:PORT (use as TWILIO_API_BASE_URL). */
  url = '';
  readonly requests: RestRequest[];
  /** Calls that ended: an update for one of them answers 404 / 20404, as Twilio does. */
  readonly endedCalls = new Set<string>();

  private readonly opts: FakeTwilioRestOptions;
  private readonly recorder = new Recorder<RestRequest>('fake twilio rest', (r) => `${r.method} ${r.path}`);
  private readonly failures: (TwilioErrorReply | Misbehaviour)[] = [];
  private readonly server = createServer((req, res) => this.onRequest(req, res));
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(opts: FakeTwilioRestOptions) {
    this.opts = opts;
    this.requests = this.recorder.items;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next request (after auth) is answered with this Twilio error instead. */
  failNext(reply: TwilioErrorReply): void {
    this.failures.push(reply);
  }

  /** The next request (after auth) gets this misbehaviour instead of an answer. */
  misbehaveNext(misbehaviour: Misbehaviour): void {
    this.failures.push(misbehaviour);
  }

  /** First request matching (already received or future). */
  waitFor(match: (request: RestRequest) => boolean, timeoutMs = 5000): Promise<RestRequest> {
    return this.recorder.waitFor(match, 'matching REST request', timeoutMs);
  }

  /** Requests that update `callSid` (hang-up, redirect). */
  updatesOf(callSid: string): RestRequest[] {
    return this.requests.filter((r) => r.callSid === callSid && CALL.test(r.path));
  }

  async close(): Promise<void> {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
    this.recorder.end('fake twilio rest closed');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const delay = this.opts.delayMs ?? 0;
      const answer = () => this.answer(req, res, Buffer.concat(chunks).toString('utf8'));
      if (delay <= 0) return answer();
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        answer();
      }, delay);
      this.pending.add(timer);
    });
  }

  private answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const params = new URLSearchParams(body);
    const formAll: Record<string, string[]> = {};
    for (const [key, value] of params) (formAll[key] ??= []).push(value);
    const form = Object.fromEntries(Object.entries(formAll).map(([k, v]) => [k, v[0] as string]));
    const expected = 'Basic ' + Buffer.from(`${this.opts.accountSid}:${this.opts.authToken}`).toString('base64');
    const authorized = req.headers.authorization === expected;
    const update = CALL.exec(path);
    const create = CALLS.exec(path);
    const callSid = update?.[2] ?? (create && authorized && this.failures.length === 0 ? 'CA' + randomBytes(16).toString('hex') : undefined);
    this.recorder.push({ method: req.method ?? '', path, headers: req.headers, form, formAll, authorized, callSid });

    if (!authorized) return this.error(res, { status: 401, code: 20003, message: 'Authenticate' });
    const failure = this.failures.shift();
    if (failure && 'kind' in failure) return this.misbehave(res, failure);
    if (failure) return this.error(res, failure);
    const account = (update ?? create)?.[1];
    if (req.method !== 'POST' || account !== this.opts.accountSid || callSid === undefined) {
      return this.error(res, { status: 404, code: 20404, message: `The requested resource ${path} was not found` });
    }
    if (update && this.endedCalls.has(callSid)) {
      return this.error(res, { status: 404, code: 20404, message: `The requested resource ${path} was not found` });
    }
    if (update && form.Status === 'completed') this.endedCalls.add(callSid);
    const status = update ? (form.Status ?? 'in-progress') : 'queued';
    this.json(res, update ? 200 : 201, {
      sid: callSid,
      account_sid: account,
      to: form.To ?? null,
      from: form.From ?? null,
      status,
      direction: 'outbound-api',
      uri: `/2010-04-01/Accounts/${account}/Calls/${callSid}.json`,
    });
  }

  private misbehave(res: ServerResponse, m: Misbehaviour): void {
    switch (m.kind) {
      case 'raw':
        res.writeHead(m.status, { 'Content-Type': m.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(m.body) });
        res.end(m.body);
        return;
      case 'cut': {
        const body = JSON.stringify({ sid: 'CA' + 'f'.repeat(32), status: 'queued' });
        res.writeHead(m.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        // Flush the head and half the body, then cut: the client sees the status, never the end.
        res.write(body.slice(0, body.length >> 1), () => res.socket?.destroy());
        return;
      }
      case 'reset':
        res.socket?.destroy();
        return;
      case 'hang':
        return;
    }
  }

  private error(res: ServerResponse, reply: TwilioErrorReply): void {
    this.json(res, reply.status, {
      code: reply.code,
      message: reply.message,
      more_info: `https://www.twilio.com/docs/errors/${reply.code}`,
      status: reply.status,
    });
  }

  private json(res: ServerResponse, status: number, body: object): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
  }
}

export async function startFakeTwilioRest(opts: FakeTwilioRestOptions): Promise<FakeTwilioRest> {
  const fake = new FakeTwilioRest(opts);
  await fake.listen();
  return fake;
}

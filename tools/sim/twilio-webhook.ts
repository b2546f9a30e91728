/**
 * Twilio's side of call set-up: POST the signed voice webhook, read the TwiML, and find where the
 * `<Connect><Stream>` points and which `<Parameter>`s go into `start.customParameters`.
 *
 * The signature covers PUBLIC_URL + path (what Twilio was configured with), which may differ from
 * the address the simulator actually reaches the bridge at (a load balancer, a tunnel, loopback).
 */
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';

export interface WebhookOptions {
  /** Where to send the request (e.g. http://127.0.0.1:3000). */
  readonly target: URL;
  /** The bridge's PUBLIC_URL: the URL Twilio signs. @default target's origin */
  readonly publicUrl?: string;
  /** @default '/twilio/voice' */
  readonly path?: string;
  /** Form parameters (CallSid, From, To, …). */
  readonly params: Readonly<Record<string, string>>;
  /** Sign with X-Twilio-Signature when given (the bridge's TWILIO_AUTH_TOKEN). */
  readonly authToken?: string;
  /** @default 5000 */
  readonly timeoutMs?: number;
  readonly agent?: HttpAgent | HttpsAgent;
}

export interface StreamTwiml {
  /** `<Stream url>` as written (wss://PUBLIC_URL host/twilio/stream/<token>). */
  readonly streamUrl: string;
  /** `<Parameter name value>` pairs. */
  readonly parameters: Readonly<Record<string, string>>;
}

/** The webhook did not answer with stream TwiML: carries what the bridge said. */
export class WebhookError extends Error {
  readonly status: number | null;
  readonly body: string;
  constructor(message: string, status: number | null = null, body = '') {
    super(message);
    this.name = 'WebhookError';
    this.status = status;
    this.body = body;
  }
}

/** Largest response body read, bytes: TwiML is a few hundred. */
const BODY_LIMIT = 64 * 1024;

export function newCallSid(): string {
  return 'CA' + randomBytes(16).toString('hex');
}

/** The form Twilio posts for an inbound call (the fields the bridge reads, plus a few realistic ones). */
export function inboundCallParams(callSid: string, from = '+15005550006', to = '+15005550001'): Record<string, string> {
  return {
    AccountSid: 'AC' + randomBytes(16).toString('hex'),
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: from,
    To: to,
  };
}

/** POSTs a (signed) webhook; resolves with status and body, rejects with a readable WebhookError on network failure. */
export function postWebhook(opts: WebhookOptions): Promise<{ status: number; body: string; contentType: string }> {
  const path = opts.path ?? '/twilio/voice';
  const body = new URLSearchParams(opts.params).toString();
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/x-www-form-urlencoded',
    'Content-Length': Buffer.byteLength(body),
    'User-Agent': 'TwilioProxy/1.1',
    'I-Twilio-Idempotency-Token': randomBytes(8).toString('hex'),
  };
  if (opts.authToken !== undefined) {
    const signedUrl = (opts.publicUrl ?? opts.target.origin).replace(/\/$/, '') + path;
    headers['X-Twilio-Signature'] = twilio.getExpectedTwilioSignature(opts.authToken, signedUrl, { ...opts.params });
  }
  const url = new URL(path, opts.target);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers, timeout: opts.timeoutMs ?? 5000, agent: opts.agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < BODY_LIMIT) text += chunk;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text, contentType: String(res.headers['content-type'] ?? '') }));
      res.once('error', (err) => reject(new WebhookError(`webhook ${url.href}: ${err.message}`)));
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 5000} ms`)));
    req.once('error', (err: NodeJS.ErrnoException) => reject(new WebhookError(describeNetworkError(url, err))));
    req.end(body);
  });
}

/** "connection refused" beats "ECONNREFUSED" for someone who mistyped a port. */
export function describeNetworkError(url: URL, err: NodeJS.ErrnoException): string {
  const where = `${url.protocol}//${url.host}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `nothing is listening at ${where} (connection refused): is the bridge running, and is the port right?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${url.hostname}`;
    case 'ECONNRESET':
      return `${where} reset the connection`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `${where} does not speak ${url.protocol === 'https:' ? 'TLS' : 'plain HTTP'} (try ${url.protocol === 'https:' ? 'http' : 'https'}://)`;
    case undefined: // no code: Node's message is all there is
    default:
      return `request to ${where} failed: ${err.message}`;
  }
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescapeXml = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_m, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : (XML_ENTITIES[e.toLowerCase()] ?? ''),
  );

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([A-Za-z_:][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/g)) {
    out[m[1] as string] = unescapeXml(m[3] ?? m[4] ?? '');
  }
  return out;
}

/** A tag's attributes: quoted values may hold `>` (XML only requires `<` and `&` escaped there). */
const ATTRS = `(?:[^>"'/]|"[^"]*"|'[^']*'|/(?!>))*`;

/**
 * Reads `<Connect><Stream url><Parameter/>…</Stream></Connect>` from TwiML (the small, regular
 * documents the bridge writes), or null when there is no stream (e.g. a spoken refusal).
 */
export function parseStreamTwiml(xml: string): StreamTwiml | null {
  const stream = new RegExp(`<Stream\\b(${ATTRS})(\\/>|>([\\s\\S]*?)<\\/Stream>)`).exec(xml);
  if (!stream) return null;
  const url = attributes(stream[1] ?? '')['url'];
  if (!url) return null;
  const parameters: Record<string, string> = {};
  for (const p of (stream[3] ?? '').matchAll(new RegExp(`<Parameter\\b(${ATTRS})\\/?>`, 'g'))) {
    const a = attributes(p[1] ?? '');
    if (a['name'] !== undefined) parameters[a['name']] = a['value'] ?? '';
  }
  return { streamUrl: url, parameters };
}

/** What a `<Say>` in the TwiML says (the bridge's spoken refusals), joined. */
export function spokenText(xml: string): string {
  return [...xml.matchAll(/<Say\b[^>]*>([\s\S]*?)<\/Say>/g)].map((m) => unescapeXml(m[1] ?? '').trim()).join(' ');
}

/**
 * The stream URL as seen from here: Twilio dials `wss://<PUBLIC_URL host>/…`; the simulator dials
 * the same path at the address it reaches the bridge on (ws for http targets, wss for https).
 */
export function streamUrlFor(streamUrl: string, target: URL): string {
  const twimlUrl = new URL(streamUrl);
  const url = new URL(twimlUrl.pathname + twimlUrl.search, target);
  url.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** Posts the voice webhook and returns the stream to open; throws WebhookError with status and body otherwise. */
export async function answerCall(opts: WebhookOptions): Promise<StreamTwiml & { wsUrl: string }> {
  const res = await postWebhook(opts);
  if (res.status !== 200) {
    const hint =
      res.status === 403
        ? ' (signature refused: pass the bridge\'s TWILIO_AUTH_TOKEN with --auth-token, and its PUBLIC_URL with --public-url)'
        : res.status === 404
          ? ' (no such route: is this the voice bridge?)'
          : '';
    throw new WebhookError(`webhook refused: HTTP ${res.status}${hint}: ${res.body.trim().slice(0, 300)}`, res.status, res.body);
  }
  const twiml = parseStreamTwiml(res.body);
  if (twiml === null) {
    const said = spokenText(res.body);
    throw new WebhookError(
      said ? `the bridge declined the call: "${said}"` : `webhook answered 200 without <Stream> TwiML: ${res.body.trim().slice(0, 300)}`,
      res.status,
      res.body,
    );
  }
  return { ...twiml, wsUrl: streamUrlFor(twiml.streamUrl, opts.target) };
}

/**
 * A fake Twilio Media Streams caller over a real WebSocket: connects the way Twilio's media
 * servers do and hands back the call (fake-twilio-call.ts), or the bridge's refusal as an error.
 * Plain TypeScript, no test-runner imports.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { FakeTwilioCall } from './fake-twilio-call.js';
import type { TwilioStartPayload } from './twilio-messages.js';

export interface FakeTwilioOptions {
  /** The stream URL, e.g. ws://127.0.0.1:PORT/twilio/stream/<token>. */
  url: string;
  /** Sent as start.customParameters.token (omitted when undefined). */
  token?: string;
  /** @default random CA… */
  callSid?: string;
  /** @default random MZ… */
  streamSid?: string;
  /** @default random AC… */
  accountSid?: string;
  /** Other `<Parameter>`s; `token`, when given, is added to them (and wins). */
  customParameters?: Record<string, string>;
  /** Source address to connect from (any 127.x.y.z on Linux loopback). */
  localAddress?: string;
  /** Upgrade request headers (X-Twilio-Signature, User-Agent, …). */
  headers?: Record<string, string>;
  /** Send `connected` and `start` on open. @default true */
  autoStart?: boolean;
  /** Changes to the default start payload (negative tests); keys in `omitStart` are deleted. */
  start?: Partial<TwilioStartPayload>;
  omitStart?: (keyof TwilioStartPayload)[];
  /** @default 5000 */
  handshakeTimeoutMs?: number;
}

/** The bridge refused the upgrade with a plain HTTP response. */
export class UpgradeRejectedError extends Error {
  readonly statusCode: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  constructor(statusCode: number, headers: IncomingMessage['headers'], body: string) {
    super(`upgrade refused with HTTP ${statusCode}`);
    this.name = 'UpgradeRejectedError';
    this.statusCode = statusCode;
    this.headers = headers;
    this.body = body;
  }
}

/** Cap on a refusal body we keep for assertions (bytes). */
const REFUSAL_BODY_LIMIT = 64 * 1024;

/**
 * Opens a stream like Twilio's media servers: resolves once open (and, unless autoStart is false,
 * after `connected` and `start` were sent). A refused upgrade rejects with UpgradeRejectedError.
 */
export function connectFakeTwilio(opts: FakeTwilioOptions): Promise<FakeTwilioCall> {
  const socket = new WebSocket(opts.url, {
    headers: opts.headers,
    localAddress: opts.localAddress,
    handshakeTimeout: opts.handshakeTimeoutMs ?? 5000,
    perMessageDeflate: false,
  });
  const call = new FakeTwilioCall(socket, opts);
  return new Promise<FakeTwilioCall>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    socket.on('error', (err) => fail(err));
    socket.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < REFUSAL_BODY_LIMIT) chunks.push(chunk);
        size += chunk.length;
      });
      const done = (): void => {
        fail(new UpgradeRejectedError(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8')));
        // With this listener ws leaves the handshake to us; terminate() aborts it and emits 'close'.
        socket.terminate();
      };
      res.once('end', done);
      res.once('error', done);
      res.once('close', done);
    });
    socket.once('open', () => {
      if (opts.autoStart ?? true) {
        call.sendConnected();
        call.sendStart(opts.start, opts.omitStart);
      }
      settled = true;
      resolve(call);
    });
  });
}

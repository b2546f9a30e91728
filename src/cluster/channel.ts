/**
 * One IPC channel between the primary and one worker (WORKERS > 1): requests that get an answer,
 * and notes that do not, over node:cluster's message pipe.
 *
 * Both ends are this program, but a message is still input: anything that is not one of ours
 * (prom-client and other libraries use the same pipe) is ignored, and a handler that throws
 * answers with an error instead of taking the process down.
 *
 * Bounded: at most `maxPending` requests wait for an answer (past that, a request fails at once,
 * and callers fall back as they would for a dead peer), and a request unanswered after `staleMs`
 * is dropped from the table the next time one is sent, so a peer that stops answering costs a
 * fixed amount of memory and no timer. Callers put their own, much shorter, deadline on each
 * request (the guard: 50 ms); this is only the table's hygiene. When the peer goes (disconnect),
 * every waiting request fails at once.
 */
import type { Worker } from 'node:cluster';
import { systemClock } from '../clock.js';

/** Requests waiting for an answer, per channel. @default 10_000 */
export const MAX_PENDING = 10_000;
/** A request unanswered this long is given up (its caller gave up long before), ms. @default 10_000 */
export const STALE_MS = 10_000;

/** Either end of the pipe: a worker's `process`, or the primary's `cluster.Worker`. */
export interface Port {
  send(message: Wire): boolean;
  onMessage(listener: (message: unknown) => void): void;
  onDisconnect(listener: () => void): void;
  isConnected(): boolean;
}

export type Wire =
  | { readonly vb: 'req'; readonly id: number; readonly kind: string; readonly body: unknown }
  | { readonly vb: 'res'; readonly id: number; readonly ok: true; readonly body: unknown }
  | { readonly vb: 'res'; readonly id: number; readonly ok: false; readonly error: string }
  | { readonly vb: 'note'; readonly kind: string; readonly body: unknown };

export class ChannelError extends Error {
  readonly code = 'VB_ERR_IPC';
}

interface Waiting {
  readonly resolve: (body: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly sentAt: number;
}

export interface ChannelOptions {
  /** @default MAX_PENDING */
  readonly maxPending?: number;
  /** @default STALE_MS */
  readonly staleMs?: number;
  /** Monotonic ms. @default systemClock.mono */
  readonly now?: () => number;
  /** A note listener threw: told here instead of reaching the process's fault policy. @default rethrow */
  readonly onNoteError?: (err: unknown, kind: string) => void;
}

export class Channel {
  readonly #port: Port;
  readonly #maxPending: number;
  readonly #staleMs: number;
  readonly #now: () => number;
  readonly #onNoteError: ((err: unknown, kind: string) => void) | undefined;
  /** In send order, so the oldest (first to go stale) are at the front. */
  readonly #pending = new Map<number, Waiting>();
  readonly #handlers = new Map<string, (body: unknown) => unknown>();
  readonly #notes = new Map<string, (body: unknown) => void>();
  readonly #gone = new Set<() => void>();
  #nextId = 1;
  #closed = false;

  constructor(port: Port, opts: ChannelOptions = {}) {
    this.#port = port;
    this.#maxPending = opts.maxPending ?? MAX_PENDING;
    this.#staleMs = opts.staleMs ?? STALE_MS;
    this.#now = opts.now ?? systemClock.mono;
    this.#onNoteError = opts.onNoteError;
    port.onMessage((message) => this.#receive(message));
    port.onDisconnect(() => this.close());
  }

  get connected(): boolean {
    return !this.#closed && this.#port.isConnected();
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Asks the peer's handler for `kind`; rejects with ChannelError when it cannot or does not answer. */
  request(kind: string, body: unknown): Promise<unknown> {
    if (!this.connected) return Promise.reject(new ChannelError('the other process is gone'));
    this.#dropStale();
    if (this.#pending.size >= this.#maxPending) {
      return Promise.reject(new ChannelError(`${this.#maxPending} requests already wait for an answer`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, sentAt: this.#now() });
      if (!this.#trySend({ vb: 'req', id, kind, body })) this.#settle(id, new ChannelError('the message could not be sent'));
    });
  }

  /** A one-way message; false when it could not be sent (the peer is gone). */
  note(kind: string, body: unknown): boolean {
    return this.connected && this.#trySend({ vb: 'note', kind, body });
  }

  /** Answers the peer's requests of `kind` (one handler per kind; a later one replaces it). */
  handle(kind: string, handler: (body: unknown) => unknown): void {
    this.#handlers.set(kind, handler);
  }

  onNote(kind: string, listener: (body: unknown) => void): void {
    this.#notes.set(kind, listener);
  }

  /** Told once when the peer goes (or the channel is closed). */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#gone.add(listener);
  }

  /** Fails every waiting request; later requests fail at once. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#pending.keys()]) this.#settle(id, new ChannelError('the other process is gone'));
    for (const listener of this.#gone) listener();
    this.#gone.clear();
  }

  #trySend(message: Wire): boolean {
    try {
      this.#port.send(message);
      return true;
    } catch {
      return false; // ERR_IPC_CHANNEL_CLOSED: the peer went between the check and the send
    }
  }

  #dropStale(): void {
    const oldest = this.#now() - this.#staleMs;
    for (const [id, waiting] of this.#pending) {
      if (waiting.sentAt > oldest) break;
      this.#settle(id, new ChannelError(`no answer within ${this.#staleMs} ms`));
    }
  }

  #settle(id: number, outcome: { body: unknown } | Error): void {
    const waiting = this.#pending.get(id);
    if (waiting === undefined) return; // answered after it was given up
    this.#pending.delete(id);
    if (outcome instanceof Error) waiting.reject(outcome);
    else waiting.resolve(outcome.body);
  }

  #receive(message: unknown): void {
    if (!isWire(message)) return;
    if (message.vb === 'res') {
      this.#settle(message.id, message.ok ? { body: message.body } : new ChannelError(message.error));
    } else if (message.vb === 'note') {
      this.#note(message.kind, message.body);
    } else {
      void this.#answer(message.id, message.kind, message.body);
    }
  }

  #note(kind: string, body: unknown): void {
    const listener = this.#notes.get(kind);
    if (listener === undefined) return;
    if (this.#onNoteError === undefined) return listener(body);
    try {
      listener(body);
    } catch (err) {
      this.#onNoteError(err, kind);
    }
  }

  async #answer(id: number, kind: string, body: unknown): Promise<void> {
    const handler = this.#handlers.get(kind);
    let reply: Wire;
    try {
      if (handler === undefined) throw new Error(`no handler for "${kind}"`);
      reply = { vb: 'res', id, ok: true, body: await handler(body) };
    } catch (err) {
      reply = { vb: 'res', id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (this.connected) this.#trySend(reply);
  }
}

function isWire(message: unknown): message is Wire {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  if (m.vb === 'note') return typeof m.kind === 'string';
  if (m.vb === 'req') return typeof m.id === 'number' && typeof m.kind === 'string';
  if (m.vb === 'res') return typeof m.id === 'number' && typeof m.ok === 'boolean' && (m.ok || typeof m.error === 'string');
  return false;
}

/**
 * A send that fails (the peer went a moment ago) reports to its callback; without one, Node would
 * emit it as an 'error' event nobody listens to. Nothing to do with it: `onDisconnect` follows.
 */
const ignoreSendError = (): void => undefined;

/** A worker's end: its own process. */
export function portOfProcess(proc: NodeJS.Process = process): Port {
  return {
    send: (message) => proc.send?.(message, ignoreSendError) ?? false,
    onMessage: (listener) => void proc.on('message', listener),
    onDisconnect: (listener) => void proc.once('disconnect', listener),
    isConnected: () => proc.connected === true,
  };
}

/** The primary's end: one worker. */
export function portOfWorker(worker: Worker): Port {
  return {
    send: (message) => worker.send(message, ignoreSendError),
    onMessage: (listener) => void worker.on('message', listener),
    onDisconnect: (listener) => void worker.once('disconnect', listener),
    isConnected: () => worker.isConnected(),
  };
}

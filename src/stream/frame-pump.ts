/**
 * Frame pump: the one thin timer shell around a FrameAggregator.
 *
 * It carries out the aggregator's decisions and nothing more: pushes chunks with the current
 * time, hands ready frames to `onFrame` synchronously, and keeps exactly one timeout armed at
 * the aggregator's deadline while bytes are held — none while the buffer is empty. No polling,
 * no intervals: one timer per partial frame at most (≤ 10 wake-ups a second at 100 ms).
 *
 * `onFrame` should not throw (the session catches its own send errors). If it does, the error
 * propagates to whoever called push/flush (or out of the timer callback), and frames not yet
 * delivered stay queued for the next delivery rather than being lost silently.
 */
import type { FrameAggregator } from './frame-aggregator.js';
import { systemClock } from '../clock.js';

export interface FramePumpOptions {
  readonly aggregator: FrameAggregator;
  /** Receives every frame, in order. Called synchronously from push/flush or the timer. */
  readonly onFrame: (frame: Buffer) => void;
  /** Clock in ms; must be the clock the aggregator's deadlines are in. @default performance.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly setTimer?: (fn: () => void, delayMs: number) => unknown;
  /** @default clearTimeout */
  readonly clearTimer?: (handle: unknown) => void;
  /** Runs `fn` at the end of this I/O turn (perTurn). @default setImmediate */
  readonly setTurn?: (fn: () => void) => NodeJS.Immediate;
  /**
   * Take full frames once per I/O turn (setImmediate) instead of on every push, so a burst of
   * small deltas read from one socket read leaves as one large frame (coalesce mode: the model
   * speaking faster than real time). Holds at most one turn's worth of input. @default false
   */
  readonly perTurn?: boolean;
}

export class FramePump {
  private readonly aggregator: FrameAggregator;
  private readonly onFrame: (frame: Buffer) => void;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, delayMs: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  /** Frames taken from the aggregator but not yet handed to onFrame (reentrancy-safe delivery). */
  private outbox: Buffer[] = [];
  private delivering = false;
  private timer: unknown = null;
  /** The deadline the armed timer is for, so an unchanged deadline does not re-arm. */
  private timerFor: number | null = null;
  private closed = false;
  private readonly perTurn: boolean;
  private readonly setTurn: (fn: () => void) => NodeJS.Immediate;
  private turn: NodeJS.Immediate | null = null;

  constructor(options: FramePumpOptions) {
    this.aggregator = options.aggregator;
    this.onFrame = options.onFrame;
    // performance.now is monotonic: a wall-clock step must not stretch or shrink a window.
    this.now = options.now ?? systemClock.mono;
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
    this.perTurn = options.perTurn ?? false;
    this.setTurn = options.setTurn ?? ((fn) => setImmediate(fn));
  }

  /** True while a timer is armed (for tests and introspection). */
  get timerArmed(): boolean {
    return this.timer !== null;
  }

  get pendingBytes(): number {
    return this.aggregator.pendingBytes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Adds a chunk; full (or overdue) frames go to onFrame before this returns. No-op once closed. */
  push(chunk: Buffer): void {
    if (this.closed) return;
    // Per message (50 a second per call and direction): one clock read, and the aggregator's
    // frames taken only when there are some, so a chunk that completes nothing allocates nothing.
    const aggregator = this.aggregator;
    const now = this.now();
    aggregator.add(chunk, now);
    if (this.perTurn) {
      if (this.turn === null && aggregator.pendingBytes >= aggregator.frameBytes) {
        this.turn = this.setTurn(this.onTurn);
      }
    } else {
      if (aggregator.pendingBytes >= aggregator.frameBytes) this.enqueue(aggregator.takeFull());
      this.takeDue(now);
    }
    this.reschedule(now);
    this.deliver();
  }

  private readonly onTurn = (): void => {
    this.turn = null;
    this.release();
  };

  /** Delivers whatever is held now as one frame (end of a response, end of the call). */
  flush(): void {
    if (this.closed) return;
    this.cancelTurn();
    // Full frames first, so a flush after a burst never exceeds the coalesce cap.
    this.enqueue(this.aggregator.takeFull());
    const rest = this.aggregator.flush();
    if (rest) this.outbox.push(rest);
    this.reschedule(this.now());
    this.deliver();
  }

  /**
   * Drops everything not yet delivered (barge-in) and clears the timer.
   * @returns bytes dropped, including frames taken but not yet delivered (for metrics).
   */
  discard(): number {
    this.cancelTurn();
    let dropped = this.aggregator.discard();
    for (const frame of this.outbox) dropped += frame.length;
    this.outbox = [];
    this.reschedule(this.now());
    return dropped;
  }

  /** Stops for good: clears the timer, drops what is held, makes later pushes no-ops. @returns bytes dropped */
  close(): number {
    const dropped = this.discard();
    this.closed = true;
    return dropped;
  }

  private cancelTurn(): void {
    if (this.turn !== null) clearImmediate(this.turn);
    this.turn = null;
  }

  private enqueue(frames: readonly Buffer[]): void {
    for (const frame of frames) this.outbox.push(frame);
  }

  /** Queues the partial frame if its deadline is at or before `now` (a late call or timer). */
  private takeDue(now: number): void {
    const deadline = this.aggregator.deadline();
    if (deadline !== null && now >= deadline) this.enqueue(this.aggregator.due(now));
  }

  private deliver(): void {
    // A frame handed out may make onFrame call back into push/flush/discard; the outer loop
    // keeps delivering in order and an inner call just queues, so order is never inverted.
    if (this.delivering || this.outbox.length === 0) return;
    this.delivering = true;
    try {
      let frame: Buffer | undefined;
      while (!this.closed && (frame = this.outbox.shift()) !== undefined) this.onFrame(frame);
    } finally {
      this.delivering = false;
    }
  }

  /** Arms one timer at the aggregator's deadline, or clears it when nothing is held. `now`: the caller's clock reading. */
  private reschedule(now: number): void {
    const deadline = this.closed ? null : this.aggregator.deadline();
    if (deadline === this.timerFor) return;
    if (this.timer !== null) {
      this.clearTimer(this.timer);
      this.timer = null;
      this.timerFor = null;
    }
    if (deadline === null) return;
    this.timerFor = deadline;
    this.timer = this.setTimer(this.onTimer, Math.max(0, deadline - now));
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerFor = null;
    // A clock that lags the timer releases nothing here; reschedule re-arms for the remainder.
    this.release();
  };

  /** End of an I/O turn or a deadline: full frames, then the partial if due, then re-arm. */
  private release(): void {
    if (this.closed) return;
    const now = this.now();
    this.enqueue(this.aggregator.takeFull());
    this.takeDue(now);
    this.reschedule(now);
    this.deliver();
  }
}

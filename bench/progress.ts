/**
 * The progress line of `npm run bench`: what it is doing now, on stderr, one line when the step
 * changes (at most one a second) and a reminder every 30 s during a long step — so a run of
 * minutes is never silent, and never spams.
 */

/** Lines at most this often, ms. */
const MIN_GAP_MS = 1000;
/** Repeat the current step after this long without a new one, ms. */
const REMIND_MS = 30_000;

export class ProgressLine {
  private readonly write: (line: string) => void;
  private readonly now: () => number;
  private readonly began: number;
  private current = '';
  private printed = '';
  private lastAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;

  constructor(write: (line: string) => void = (line) => process.stderr.write(line), now: () => number = () => performance.now()) {
    this.write = write;
    this.now = now;
    this.began = now();
  }

  /** Says what the run is doing now. */
  set(what: string): void {
    this.current = what;
    this.timer ??= setInterval(() => this.flush(), MIN_GAP_MS).unref();
    this.flush();
  }

  /** Prints the current step if it changed (and a second has passed), or as a reminder. */
  flush(): void {
    const t = this.now();
    const changed = this.current !== this.printed;
    if (this.current === '' || (changed && t - this.lastAt < MIN_GAP_MS) || (!changed && t - this.lastAt < REMIND_MS)) return;
    const s = Math.round((t - this.began) / 1000);
    this.write(`[bench ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}] ${this.current}${changed ? '' : ' (still)'}\n`);
    this.printed = this.current;
    this.lastAt = t;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * What both fakes received, in order and with arrival times, so a test or script can await "the
 * first X" whether it already came or is still to come. Plain TypeScript, no test-runner imports.
 */
import { monotonicNow } from './clock.js';

interface Waiter<T> {
  match: (item: T) => boolean;
  resolve: (item: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** An append-only log (with arrival times) that can be awaited; ended when its socket closes. */
export class Recorder<T> {
  readonly items: T[] = [];
  /** monotonicNow() at each push, parallel to `items`. */
  readonly times: number[] = [];
  private readonly waiters = new Set<Waiter<T>>();
  private endReason: string | null = null;
  private readonly label: string;
  private readonly describe: (item: T) => string;

  constructor(label: string, describe: (item: T) => string) {
    this.label = label;
    this.describe = describe;
  }

  push(item: T): void {
    this.items.push(item);
    this.times.push(monotonicNow());
    for (const waiter of this.waiters) {
      let matched: boolean;
      try {
        matched = waiter.match(item);
      } catch (err) {
        this.settle(waiter);
        waiter.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (matched) {
        this.settle(waiter);
        waiter.resolve(item);
      }
    }
  }

  count(match: (item: T) => boolean): number {
    return this.items.filter(match).length;
  }

  /** First item matching (already recorded or future); rejects on timeout or when ended first. */
  waitFor(match: (item: T) => boolean, description: string, timeoutMs: number): Promise<T> {
    const found = this.items.find(match);
    if (found !== undefined) return Promise.resolve(found);
    if (this.endReason !== null) return Promise.reject(new Error(`${this.label}: no ${description} (${this.endReason}); ${this.summary()}`));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${description}; ${this.summary()}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Rejects every pending waiter now, and later ones that find nothing. */
  end(reason: string): void {
    if (this.endReason !== null) return;
    this.endReason = reason;
    for (const waiter of this.waiters) {
      this.settle(waiter);
      waiter.reject(new Error(`${this.label}: ${reason} while waiting; ${this.summary()}`));
    }
  }

  private settle(waiter: Waiter<T>): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }

  private summary(): string {
    const counts = new Map<string, number>();
    for (const item of this.items) {
      const key = this.describe(item);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return `received ${[...counts].map(([k, n]) => `${k}×${n}`).join(', ') || 'nothing'}`;
  }
}

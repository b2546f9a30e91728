import { monotonicNow } from './clock.js';

/** Sleeps on a monotonic deadline that can all be cut short at once (on close or cancel). */
export class Sleeper {
  private readonly pending = new Map<NodeJS.Timeout, () => void>();

  sleepUntil(deadline: number): Promise<void> {
    const ms = deadline - monotonicNow();
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve();
      }, ms);
      this.pending.set(timer, resolve);
    });
  }

  wakeAll(): void {
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve();
    }
    this.pending.clear();
  }

  get sleeping(): number {
    return this.pending.size;
  }
}

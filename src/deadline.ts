/**
 * A deadline on a promise whose I/O may hang (a store, a database): the caller decides what a
 * late answer costs (memory instead of Redis, a 503), never waits past `ms`, and leaves no timer.
 */
export class DeadlineError extends Error {
  readonly code = 'VB_ERR_DEADLINE';
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** Resolves or rejects like `promise`, or rejects with DeadlineError after `ms`; always clears its timer. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

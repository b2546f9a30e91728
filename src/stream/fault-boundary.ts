/**
 * A call's fault boundary: the one wrapper every entry point into a call goes through (socket
 * listeners, timers, promise callbacks of tools). Whatever the wrapped function throws is handed
 * to `onFault` (the session ends that call with `internal_error`) instead of reaching ws's
 * emitter, the timer queue or the promise machinery, where it would be an uncaught exception or
 * an unhandled rejection and take the process, with every other call, down.
 */

/** Wraps a callback so that what it throws goes to the call's fault handler. */
export type Contain = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => void;

export function faultBoundary(onFault: (err: unknown) => void): Contain {
  return <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A): void => {
      try {
        fn(...args);
      } catch (err) {
        onFault(err);
      }
    };
}

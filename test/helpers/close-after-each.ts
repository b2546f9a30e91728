import { afterEach } from 'vitest';

/** Anything a test opens: a bridge, an app, a stand-in, a server process, a socket. */
export interface Closable {
  close(): unknown;
}

/** What `track` accepts: something with close(), or the function that closes it. */
export type Opened = Closable | (() => unknown);

/** Registers `opened` to be closed after the current test and returns it. */
export type Track = <T extends Opened>(opened: T) => T;

/**
 * One teardown for a test file (or describe): `const track = closeAfterEach()` once, then
 * `const bridge = track(await startBridge())` in any test or hook. After each test, failed or not,
 * everything tracked during it is closed, last opened first (a bridge before the stand-in it talks
 * to), one at a time; every one is closed even when another's close throws, and the first error
 * then fails the test.
 */
export function closeAfterEach(): Track {
  const open: Opened[] = [];
  afterEach(async () => {
    const errors: unknown[] = [];
    for (const opened of open.splice(0).reverse()) {
      try {
        await (typeof opened === 'function' ? opened() : opened.close());
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  return (opened) => {
    open.push(opened);
    return opened;
  };
}

import { afterEach, beforeEach, expect } from 'vitest';

/**
 * Fails each test of the enclosing describe in which a promise rejection went unhandled, naming
 * the test (vitest reports one too, but after the run and for the whole file).
 */
export function expectNoUnhandledRejections(): void {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });
}

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Socket tests bind 127.x addresses and real Redis; keep files isolated but bounded to 2 cores.
    pool: 'forks',
    testTimeout: 20_000,
    // An uncaught exception or unhandled rejection anywhere fails the run (vitest's default, kept
    // explicit): the peer fuzz tests rely on it to prove that no input reaches the process.
    dangerouslyIgnoreUnhandledErrors: false,
    hookTimeout: 20_000,
  },
});

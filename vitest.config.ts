import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Socket tests bind 127.x addresses and real Redis; keep files isolated but bounded to 2 cores.
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});

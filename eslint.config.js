import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The operator console: plain modules that run in the browser (and two in its audio worklets),
    // served as they are (src/console/route.ts). Their globals are the browser's, named here.
    files: ['public/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'window', 'document', 'location', 'navigator', 'sessionStorage', 'fetch', 'URL', 'URLSearchParams', 'WebSocket',
          'AbortController', 'AudioContext', 'AudioWorkletNode', 'GainNode', 'Node', 'Intl', 'crypto', 'atob', 'btoa', 'setTimeout', 'clearTimeout',
          // AudioWorkletGlobalScope
          'AudioWorkletProcessor', 'registerProcessor', 'sampleRate',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    // Type-aware rules: a promise nobody awaits or handles, a promise where a callback's result is
    // ignored, a switch over a union that misses a member. tsconfig.json covers exactly these trees
    // (it is what `npm run typecheck` checks), so the project service finds every file's types.
    files: ['src/**/*.ts', 'test/**/*.ts', 'tools/**/*.ts', 'bench/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
);

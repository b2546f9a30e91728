import { loadConfig, type Config } from '../../src/config.js';

export const TEST_SECRET = 'test-stream-secret-0123456789-abcdefghijklmnop';
export const TEST_AUTH_TOKEN = 'twilio-auth-token-for-tests-0123';
export const TEST_OPENAI_KEY = 'sk-test-openai-key-never-logged';

/** A valid environment for tests; override or delete (undefined) any variable. */
export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    NODE_ENV: 'test',
    PUBLIC_URL: 'https://voice.example.com',
    STREAM_SECRET: TEST_SECRET,
    OPENAI_API_KEY: TEST_OPENAI_KEY,
    TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
    LOG_LEVEL: 'info',
    // Tests that read records turn them on with their own CALLS_DB (a file in a temp directory).
    CALL_RECORDS: 'off',
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig(testEnv(overrides));
}

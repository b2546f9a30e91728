import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig, MAX_WORKERS, publicWsBase } from '../src/config.js';
import { testEnv } from './helpers/config.js';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('INSTANCE_ID: unset by default; a-z, 0-9 and "-", 1 to 32 long; anything else a clear error', () => {
    expect(loadConfig(testEnv()).instanceId).toBeUndefined();
    expect(loadConfig(testEnv({ INSTANCE_ID: '' })).instanceId).toBeUndefined();
    expect(loadConfig(testEnv({ INSTANCE_ID: ' web-2 ' })).instanceId).toBe('web-2');
    expect(loadConfig(testEnv({ INSTANCE_ID: 'a'.repeat(32) })).instanceId).toBe('a'.repeat(32));
    for (const bad of ['A', 'a/b', 'a_b', 'a.b', 'a b', '%2e', 'a'.repeat(33)]) {
      const problems = problemsOf(testEnv({ INSTANCE_ID: bad }));
      expect(problems, bad).toEqual([expect.stringMatching(/^INSTANCE_ID must be 1 to 32 of a-z, 0-9 and "-"/)]);
    }
  });

  it('WORKERS: 1 by default; auto is the available cores (at most 64); else an integer 1..64 or a clear error', () => {
    expect(loadConfig(testEnv()).workers).toBe(1);
    expect(loadConfig(testEnv({ WORKERS: ' 4 ' })).workers).toBe(4);
    expect(loadConfig(testEnv({ WORKERS: String(MAX_WORKERS) })).workers).toBe(64);
    expect(loadConfig(testEnv({ WORKERS: 'AUTO' })).workers).toBe(Math.min(MAX_WORKERS, availableParallelism()));
    for (const bad of ['0', '65', '-1', '1.5', 'two', '2 workers', '0x2']) {
      expect(problemsOf(testEnv({ WORKERS: bad })), bad).toEqual([`WORKERS must be auto or an integer from 1 to 64 (got "${bad}")`]);
    }
  });

  it('PREWARM: on by default with one process, off by default with WORKERS > 1, as set when set', () => {
    expect(loadConfig(testEnv()).prewarm).toBe(true);
    expect(loadConfig(testEnv({ WORKERS: '1' })).prewarm).toBe(true);
    expect(loadConfig(testEnv({ WORKERS: '2' }))).toMatchObject({ prewarm: false, prewarmExplicit: false });
    expect(loadConfig(testEnv({ WORKERS: '2', PREWARM: 'on' }))).toMatchObject({ prewarm: true, prewarmExplicit: true });
    expect(loadConfig(testEnv({ PREWARM: 'off' })).prewarm).toBe(false);
  });

  it('REDIS_KEY_PREFIX: vb:guard: by default; a short name of key-safe characters', () => {
    expect(loadConfig(testEnv()).redisKeyPrefix).toBe('vb:guard:');
    expect(loadConfig(testEnv({ REDIS_KEY_PREFIX: 'staging:vb:' })).redisKeyPrefix).toBe('staging:vb:');
    expect(problemsOf(testEnv({ REDIS_KEY_PREFIX: 'a b' }))).toEqual(['REDIS_KEY_PREFIX must be 1 to 64 of A-Z, a-z, 0-9 and ":._-" (got "a b")']);
  });

  it('applies every SPEC default and freezes the result', () => {
    const config = loadConfig(testEnv({ TWILIO_AUTH_TOKEN: undefined, LOG_LEVEL: undefined }));
    expect(Object.isFrozen(config)).toBe(true);
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1', // no TWILIO_AUTH_TOKEN: loopback only
      hostExplicit: false,
      openaiRealtimeUrl: 'wss://api.openai.com/v1/realtime',
      openaiModel: 'gpt-realtime',
      openaiVoice: 'marin',
      greeting: undefined,
      twilioApiBaseUrl: 'https://api.twilio.com',
      twilioRestTimeoutMs: 10_000,
      apiToken: undefined,
      metricsToken: undefined,
      trustProxy: false,
      redisUrl: undefined,
      logLevel: 'info',
      debug: false,
      maxCalls: 100,
      maxStreamsPerIp: 50,
      upgradeRatePerMinute: 10,
      upgradeBurst: 20,
      rejectCooldownSeconds: 30,
      banMaxSeconds: 86400,
      floodMaxRequests: 20,
      floodWindowSeconds: 5,
      floodBlockSeconds: 300,
      streamTokenTtlSeconds: 300,
      startTimeoutMs: 5000,
      invalidFrameLimit: 10,
      audioFrameMs: 100,
      backpressureBytes: 65536,
      drainTimeoutSeconds: 600,
      logTranscripts: false,
    });
    expect(config.openaiInstructions.length).toBeGreaterThan(20);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it.each(['PUBLIC_URL', 'STREAM_SECRET', 'OPENAI_API_KEY'])('names a missing %s', (name) => {
    const problems = problemsOf(testEnv({ [name]: undefined }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(name);
    expect(problems[0]).toContain('required');
  });

  it('treats a blank value as missing', () => {
    expect(problemsOf(testEnv({ OPENAI_API_KEY: '   ' }))).toEqual(['OPENAI_API_KEY is required']);
  });

  it('requires TWILIO_AUTH_TOKEN in production only', () => {
    expect(problemsOf(testEnv({ NODE_ENV: 'production', TWILIO_AUTH_TOKEN: undefined }))[0]).toMatch(
      /TWILIO_AUTH_TOKEN is required when NODE_ENV=production/,
    );
    expect(loadConfig(testEnv({ NODE_ENV: 'development', TWILIO_AUTH_TOKEN: undefined })).twilioAuthToken).toBeUndefined();
  });

  it('listens on every interface only when signatures are checked or HOST says so', () => {
    expect(loadConfig(testEnv()).host).toBe('0.0.0.0');
    expect(loadConfig(testEnv({ TWILIO_AUTH_TOKEN: undefined })).host).toBe('127.0.0.1');
    expect(loadConfig(testEnv({ TWILIO_AUTH_TOKEN: '  ' })).host).toBe('127.0.0.1');
    const explicit = loadConfig(testEnv({ TWILIO_AUTH_TOKEN: undefined, HOST: ' 0.0.0.0 ' }));
    expect([explicit.host, explicit.hostExplicit]).toEqual(['0.0.0.0', true]);
    const signed = loadConfig(testEnv({ HOST: '127.0.0.1' }));
    expect([signed.host, signed.hostExplicit]).toEqual(['127.0.0.1', true]);
    expect(loadConfig(testEnv({ HOST: '' })).hostExplicit).toBe(false);
  });

  it('requires an https PUBLIC_URL in production, naming why', () => {
    expect(problemsOf(testEnv({ NODE_ENV: 'production', PUBLIC_URL: 'http://voice.example.com' }))).toEqual([
      'PUBLIC_URL must be https:// when NODE_ENV=production: Twilio refuses the ws:// stream URL an http:// origin gives (error 31920 on every call)',
    ]);
    expect(loadConfig(testEnv({ NODE_ENV: 'production', PUBLIC_URL: 'https://voice.example.com' })).publicUrl).toBe(
      'https://voice.example.com',
    );
    expect(loadConfig(testEnv({ NODE_ENV: 'development', PUBLIC_URL: 'http://localhost:3000' })).publicUrl).toBe('http://localhost:3000');
  });

  it('sends the OpenAI key and the Twilio token only encrypted in production, or to this machine', () => {
    expect(problemsOf(testEnv({ NODE_ENV: 'production', OPENAI_REALTIME_URL: 'ws://realtime.example.com/v1/realtime', TWILIO_API_BASE_URL: 'http://api.example.com' }))).toEqual([
      'OPENAI_REALTIME_URL must be wss:// when NODE_ENV=production (it carries the OpenAI API key), unless it is a loopback address',
      'TWILIO_API_BASE_URL must be https:// when NODE_ENV=production (it carries the Twilio auth token), unless it is a loopback address',
    ]);
    const local = loadConfig(testEnv({ NODE_ENV: 'production', OPENAI_REALTIME_URL: 'ws://127.0.0.1:4000/v1/realtime', TWILIO_API_BASE_URL: 'http://localhost:4001' }));
    expect([local.openaiRealtimeUrl, local.twilioApiBaseUrl]).toEqual(['ws://127.0.0.1:4000/v1/realtime', 'http://localhost:4001']);
    expect(loadConfig(testEnv({ NODE_ENV: 'development', OPENAI_REALTIME_URL: 'ws://realtime.example.com/v1/realtime' })).openaiRealtimeUrl).toBe(
      'ws://realtime.example.com/v1/realtime',
    );
  });

  it('applies the production rules to NODE_ENV as parsed (surrounding spaces too)', () => {
    expect(problemsOf(testEnv({ NODE_ENV: ' production ', TWILIO_AUTH_TOKEN: undefined }))[0]).toMatch(/TWILIO_AUTH_TOKEN is required when NODE_ENV=production/);
  });

  it('takes redis:// and rediss:// URLs only, never echoing one it cannot parse', () => {
    for (const good of ['redis://127.0.0.1:6379', 'rediss://user:pw@redis.example.com:6380/2', 'redis://redis']) {
      expect(loadConfig(testEnv({ REDIS_URL: good })).redisUrl).toBe(good);
    }
    expect(problemsOf(testEnv({ REDIS_URL: 'http://127.0.0.1:6379' }))).toEqual(['REDIS_URL must use redis: or rediss: (got "http:")']);
    expect(problemsOf(testEnv({ REDIS_URL: 'redis:///0' }))).toEqual(['REDIS_URL must name a host (redis://host:6379)']);
    const unparsable = problemsOf(testEnv({ REDIS_URL: '127.0.0.1:6379 secret-pw' }));
    expect(unparsable).toEqual(['REDIS_URL must be a URL such as redis://127.0.0.1:6379 or rediss://user:password@host:6380']);
    expect(unparsable.join()).not.toContain('secret-pw');
  });

  it('keeps transcripts out of the log unless LOG_TRANSCRIPTS=true', () => {
    expect(loadConfig(testEnv()).logTranscripts).toBe(false);
    expect(loadConfig(testEnv({ LOG_TRANSCRIPTS: 'true' })).logTranscripts).toBe(true);
    expect(problemsOf(testEnv({ LOG_TRANSCRIPTS: 'sometimes' }))).toEqual(['LOG_TRANSCRIPTS must be true or false (got "sometimes")']);
  });

  it.each([
    ['TWILIO_REST_TIMEOUT_MS', '50', 'TWILIO_REST_TIMEOUT_MS must be an integer from 100 to 120000 (got "50")'],
    ['STREAM_SECRET', 'short', 'STREAM_SECRET must be at least 32 characters (got 5)'],
    ['PORT', '70000', 'PORT must be an integer from 0 to 65535 (got "70000")'],
    ['PORT', '3e3', 'PORT must be an integer from 0 to 65535 (got "3e3")'],
    ['MAX_CALLS', '0', 'MAX_CALLS must be an integer from 1 to 100000 (got "0")'],
    ['MAX_CALLS', 'many', 'MAX_CALLS must be an integer from 1 to 100000 (got "many")'],
    ['DEBUG', 'maybe', 'DEBUG must be true or false (got "maybe")'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    ['PUBLIC_URL', 'voice.example.com', 'PUBLIC_URL must be an absolute URL such as https://host (got "voice.example.com")'],
    ['PUBLIC_URL', 'ftp://voice.example.com', 'PUBLIC_URL must use https: or http: (got "ftp:")'],
    ['PUBLIC_URL', 'https://voice.example.com/app', 'PUBLIC_URL must be the site\'s origin with no path (got "/app")'],
    ['OPENAI_REALTIME_URL', 'https://api.openai.com/v1/realtime', 'OPENAI_REALTIME_URL must use wss: or ws: (got "https:")'],
    ['TWILIO_PHONE_NUMBER', '555-1234', 'TWILIO_PHONE_NUMBER must be in E.164 form such as +15551234567'],
  ])('rejects %s=%s', (name, value, message) => {
    expect(problemsOf(testEnv({ [name]: value }))).toEqual([message]);
  });

  it('lists every problem in one message', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ PORT: 'x', STREAM_SECRET: 'tiny', TRUST_PROXY: 'true' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.code).toBe('VB_ERR_CONFIG');
    expect(error?.problems).toHaveLength(5); // PORT, PUBLIC_URL, STREAM_SECRET, OPENAI_API_KEY, TRUST_PROXY
    for (const name of ['PORT', 'PUBLIC_URL', 'STREAM_SECRET', 'OPENAI_API_KEY', 'TRUST_PROXY']) {
      expect(error?.message).toContain(name);
    }
    expect(error?.message).toMatch(/^Invalid configuration \(5 problems\):/);
  });

  it('DEBUG=true means debug level', () => {
    expect(loadConfig(testEnv({ DEBUG: 'true' })).logLevel).toBe('debug');
    expect(loadConfig(testEnv({ DEBUG: 'true', LOG_LEVEL: 'trace' })).logLevel).toBe('trace');
  });

  it('TRUST_PROXY takes named proxies and refuses true and hop counts', () => {
    expect(loadConfig(testEnv({ TRUST_PROXY: 'loopback, 10.0.0.0/8,::1' })).trustProxy).toEqual([
      'loopback',
      '10.0.0.0/8',
      '::1',
    ]);
    expect(loadConfig(testEnv({ TRUST_PROXY: 'off' })).trustProxy).toBe(false);
    for (const bad of ['true', '1', '2', '10.0.0.0/33', 'caddy']) {
      expect(problemsOf(testEnv({ TRUST_PROXY: bad }))[0]).toMatch(/^TRUST_PROXY must list the proxies/);
    }
  });

  it('normalises PUBLIC_URL and derives the wss origin', () => {
    const config = loadConfig(testEnv({ PUBLIC_URL: 'https://Voice.Example.com/' }));
    expect(config.publicUrl).toBe('https://voice.example.com');
    expect(publicWsBase(config)).toBe('wss://voice.example.com');
    expect(publicWsBase(loadConfig(testEnv({ PUBLIC_URL: 'http://127.0.0.1:8080' })))).toBe('ws://127.0.0.1:8080');
  });
});

/**
 * Configuration: the environment, parsed and validated once into a frozen, typed object.
 *
 * The schema below is the single source of truth: `Config` is derived from it, so the type and
 * the validation cannot drift apart. Every problem is collected and reported in one message,
 * so an operator fixes a broken `.env` in one pass instead of one restart per mistake.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { INVALID_FRAME_LIMIT } from './stream/twilio-protocol.js';

type Env = Record<string, string | undefined>;

/** One field of the schema: which variable it reads and how it turns text into a value. */
interface Field<T> {
  readonly env: string;
  /** Returns the value, or a sentence describing what is wrong and how to fix it. */
  readonly parse: (raw: string | undefined, env: Env) => { value: T } | { problem: string };
}

const present = (raw: string | undefined): raw is string => raw !== undefined && raw.trim() !== '';

function str(env: string, opts: { default?: string; minLength?: number } = {}): Field<string> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) {
        if (opts.default !== undefined) return { value: opts.default };
        return { problem: `${env} is required` };
      }
      const value = raw.trim();
      if (opts.minLength !== undefined && value.length < opts.minLength) {
        return { problem: `${env} must be at least ${opts.minLength} characters (got ${value.length})` };
      }
      return { value };
    },
  };
}

function optionalStr(env: string): Field<string | undefined> {
  return { env, parse: (raw) => ({ value: present(raw) ? raw.trim() : undefined }) };
}

/** `INSTANCE_ID`: unset, or a short name that goes into a URL path as it is. */
function instanceId(env: string): Field<string | undefined> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: undefined };
      const text = raw.trim();
      if (!/^[a-z0-9-]{1,32}$/.test(text)) {
        return { problem: `${env} must be 1 to 32 of a-z, 0-9 and "-" (it goes into the stream URL's path), got "${text}"` };
      }
      return { value: text };
    },
  };
}

function int(env: string, def: number, min: number, max: number): Field<number> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: def };
      const text = raw.trim();
      const value = Number(text);
      if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
        return { problem: `${env} must be an integer from ${min} to ${max} (got "${text}")` };
      }
      return { value };
    },
  };
}

/** Most worker processes `WORKERS` may ask for (`auto` is capped here too). */
export const MAX_WORKERS = 64;

/**
 * `WORKERS`: how many server processes share the port (src/cluster/). Unset: 1, one process as
 * always; `auto`: the cores this process may use (os.availableParallelism(), at most MAX_WORKERS).
 */
function workers(env: string): Field<number> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: 1 };
      const text = raw.trim();
      if (text.toLowerCase() === 'auto') return { value: Math.min(MAX_WORKERS, Math.max(1, availableParallelism())) };
      if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_WORKERS) {
        return { problem: `${env} must be auto or an integer from 1 to ${MAX_WORKERS} (got "${text}")` };
      }
      return { value: Number(text) };
    },
  };
}

/** `REDIS_KEY_PREFIX`: what every guard key in Redis starts with. */
function keyPrefix(env: string, def: string): Field<string> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: def };
      const text = raw.trim();
      if (!/^[A-Za-z0-9:._-]{1,64}$/.test(text)) {
        return { problem: `${env} must be 1 to 64 of A-Z, a-z, 0-9 and ":._-" (got "${text}")` };
      }
      return { value: text };
    },
  };
}

function bool(env: string, def: boolean): Field<boolean> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: def };
      const text = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(text)) return { value: true };
      if (['false', '0', 'no', 'off'].includes(text)) return { value: false };
      return { problem: `${env} must be true or false (got "${raw.trim()}")` };
    },
  };
}

function oneOf<const T extends string>(env: string, def: T, values: readonly T[]): Field<T> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: def };
      const text = raw.trim() as T;
      if (!values.includes(text)) {
        return { problem: `${env} must be one of ${values.join(', ')} (got "${raw.trim()}")` };
      }
      return { value: text };
    },
  };
}

function url(
  env: string,
  protocols: readonly string[],
  opts: { default?: string; noPath?: boolean } = {},
): Field<string> {
  return {
    env,
    parse(raw) {
      const text = present(raw) ? raw.trim() : opts.default;
      if (text === undefined) return { problem: `${env} is required (for example https://voice.example.com)` };
      let parsed: URL;
      try {
        parsed = new URL(text);
      } catch {
        return { problem: `${env} must be an absolute URL such as ${protocols[0]}//host (got "${text}")` };
      }
      if (!protocols.includes(parsed.protocol)) {
        return { problem: `${env} must use ${protocols.join(' or ')} (got "${parsed.protocol}")` };
      }
      if (parsed.search || parsed.hash) {
        return { problem: `${env} must not have a query string or fragment` };
      }
      if (opts.noPath && parsed.pathname !== '/') {
        return { problem: `${env} must be the site's origin with no path (got "${parsed.pathname}")` };
      }
      // No trailing slash, so `base + '/twilio/voice'` is the exact URL Twilio signs.
      return { value: parsed.toString().replace(/\/$/, '') };
    },
  };
}

/**
 * `HOST`: as given; unset, every interface (0.0.0.0) when webhook signatures are checked, and
 * loopback only (127.0.0.1) when they are not: an unsigned server reachable from the network lets
 * anyone mint stream tokens and open paid Realtime sessions.
 */
function host(env: string): Field<string> {
  return {
    env,
    parse: (raw, all) => ({ value: present(raw) ? raw.trim() : present(all.TWILIO_AUTH_TOKEN) ? '0.0.0.0' : '127.0.0.1' }),
  };
}

/** Whether the variable is set (non-blank). */
function given(env: string): Field<boolean> {
  return { env, parse: (raw) => ({ value: present(raw) }) };
}

/** `REDIS_URL`: unset (guard state in memory), or a redis:// or rediss:// URL with a host. */
function redisUrl(env: string): Field<string | undefined> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: undefined };
      const text = raw.trim();
      let parsed: URL;
      try {
        parsed = new URL(text);
      } catch {
        // Not echoed: a URL that failed to parse may still carry a password.
        return { problem: `${env} must be a URL such as redis://127.0.0.1:6379 or rediss://user:password@host:6380` };
      }
      if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
        return { problem: `${env} must use redis: or rediss: (got "${parsed.protocol}")` };
      }
      if (parsed.hostname === '') return { problem: `${env} must name a host (redis://host:6379)` };
      return { value: text };
    },
  };
}

const PROXY_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal'];

/** `TRUST_PROXY`: off, or the proxies to trust by name. Never `true` and never a hop count. */
function trustProxy(env: string): Field<readonly string[] | false> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: false };
      const text = raw.trim();
      if (['false', 'off', 'no', '0'].includes(text.toLowerCase())) return { value: false };
      const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = entries.filter((e) => !isProxyEntry(e));
      if (bad.length > 0 || entries.length === 0) {
        return {
          problem:
            `${env} must list the proxies to trust as IPs, CIDRs or loopback/linklocal/uniquelocal, ` +
            `comma-separated (bad: ${bad.map((b) => `"${b}"`).join(', ') || '"' + text + '"'}); ` +
            'true and hop counts are refused because they trust a spoofable X-Forwarded-For',
        };
      }
      return { value: entries };
    },
  };
}

function isProxyEntry(entry: string): boolean {
  if (PROXY_KEYWORDS.includes(entry)) return true;
  const [addr, bits, extra] = entry.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const DEFAULT_INSTRUCTIONS =
  'You are a friendly, concise phone assistant. Speak naturally in short sentences, ' +
  'ask one question at a time, and confirm important details back to the caller.';

/**
 * The schema. Names and defaults follow SPEC.md; `TRANSFER_NUMBER` is this project's addition
 * (it enables the assistant's transfer_call tool).
 */
const schema = {
  nodeEnv: oneOf('NODE_ENV', 'development', ['development', 'production', 'test']),
  port: int('PORT', 3000, 0, 65535),
  host: host('HOST'),
  /** Whether HOST was set, so start-up can warn when it opens an unsigned server to the network. */
  hostExplicit: given('HOST'),
  publicUrl: url('PUBLIC_URL', ['https:', 'http:'], { noPath: true }),
  streamSecret: str('STREAM_SECRET', { minLength: 32 }),
  openaiApiKey: str('OPENAI_API_KEY'),
  openaiRealtimeUrl: url('OPENAI_REALTIME_URL', ['wss:', 'ws:'], { default: 'wss://api.openai.com/v1/realtime' }),
  openaiModel: str('OPENAI_MODEL', { default: 'gpt-realtime' }),
  openaiVoice: str('OPENAI_VOICE', { default: 'marin' }),
  openaiInstructions: str('OPENAI_INSTRUCTIONS', { default: DEFAULT_INSTRUCTIONS }),
  greeting: optionalStr('GREETING'),
  twilioAuthToken: optionalStr('TWILIO_AUTH_TOKEN'),
  twilioAccountSid: optionalStr('TWILIO_ACCOUNT_SID'),
  twilioPhoneNumber: optionalStr('TWILIO_PHONE_NUMBER'),
  twilioApiBaseUrl: url('TWILIO_API_BASE_URL', ['https:', 'http:'], { default: 'https://api.twilio.com', noPath: true }),
  /** One Twilio REST request (connect, answer and body) may take this long, in ms. */
  twilioRestTimeoutMs: int('TWILIO_REST_TIMEOUT_MS', 10_000, 100, 120_000),
  transferNumber: optionalStr('TRANSFER_NUMBER'),
  apiToken: optionalStr('API_TOKEN'),
  metricsToken: optionalStr('METRICS_TOKEN'),
  trustProxy: trustProxy('TRUST_PROXY'),
  redisUrl: redisUrl('REDIS_URL'),
  /** Keeps deployments (or test runs) sharing one Redis apart. */
  redisKeyPrefix: keyPrefix('REDIS_KEY_PREFIX', 'vb:guard:'),
  logLevel: oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  debug: bool('DEBUG', false),
  maxCalls: int('MAX_CALLS', 100, 1, 100_000),
  maxStreamsPerIp: int('MAX_STREAMS_PER_IP', 50, 1, 100_000),
  upgradeRatePerMinute: int('UPGRADE_RATE_PER_MINUTE', 10, 1, 1_000_000),
  upgradeBurst: int('UPGRADE_BURST', 20, 1, 1_000_000),
  rejectCooldownSeconds: int('REJECT_COOLDOWN_SECONDS', 30, 0, 86_400),
  banMaxSeconds: int('BAN_MAX_SECONDS', 86_400, 1, 30 * 86_400),
  floodMaxRequests: int('FLOOD_MAX_REQUESTS', 20, 1, 1_000_000),
  floodWindowSeconds: int('FLOOD_WINDOW_SECONDS', 5, 1, 3_600),
  floodBlockSeconds: int('FLOOD_BLOCK_SECONDS', 300, 1, 30 * 86_400),
  streamTokenTtlSeconds: int('STREAM_TOKEN_TTL_SECONDS', 300, 10, 86_400),
  startTimeoutMs: int('START_TIMEOUT_MS', 5_000, 100, 60_000),
  invalidFrameLimit: int('INVALID_FRAME_LIMIT', INVALID_FRAME_LIMIT, 1, 1_000),
  audioFrameMs: int('AUDIO_FRAME_MS', 100, 20, 1_000),
  backpressureBytes: int('BACKPRESSURE_BYTES', 65_536, 1_024, 64 * 1024 * 1024),
  drainTimeoutSeconds: int('DRAIN_TIMEOUT_SECONDS', 600, 0, 86_400),
  /** Caller and assistant transcripts (and keypad digits) in the log: caller content, off by default. */
  logTranscripts: bool('LOG_TRANSCRIPTS', false),
  /**
   * Open the Realtime session when the signed webhook is answered (a faster first turn). Off where
   * the webhook and its stream may reach different processes (several instances behind a proxy
   * without affinity): a pre-warm there is opened, held for 15 s and wasted.
   */
  prewarm: bool('PREWARM', true),
  /** Whether PREWARM was set: unset, it is off with WORKERS > 1 (see loadConfig). */
  prewarmExplicit: given('PREWARM'),
  /** Server processes sharing the port (src/cluster/); 1 = this process serves, as always. */
  workers: workers('WORKERS'),
  /**
   * This instance's name among several behind one proxy: the stream URL in the TwiML becomes
   * `/i/<id>/twilio/stream/<token>`, so the proxy can send the stream to the instance that
   * pre-warmed its call (docs/multiple-instances.md). Unset: the plain stream URL.
   */
  instanceId: instanceId('INSTANCE_ID'),
} as const;

type Schema = typeof schema;
type ValueOf<F> = F extends Field<infer T> ? T : never;

export type Config = Readonly<{ [K in keyof Schema]: ValueOf<Schema[K]> }>;

/** Thrown by `loadConfig` with every problem listed; `server.ts` prints it and exits 1. */
export class ConfigError extends Error {
  readonly code = 'VB_ERR_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        '\nSet these in the environment or in .env (see .env.example).',
    );
    this.name = 'ConfigError';
  }
}

/** Parses `env` (default: `process.env`) into a frozen Config, or throws one ConfigError. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema) as [string, Field<unknown>][]) {
    const result = field.parse(env[field.env], env);
    if ('problem' in result) problems.push(result.problem);
    else out[key] = result.value;
  }
  // The parsed value, not the raw one: " production" is production too.
  const production = out.nodeEnv === 'production';
  if (production && !present(env.TWILIO_AUTH_TOKEN)) {
    problems.push('TWILIO_AUTH_TOKEN is required when NODE_ENV=production (webhook signatures must be checked)');
  }
  if (production && typeof out.publicUrl === 'string' && !out.publicUrl.startsWith('https:')) {
    problems.push(
      'PUBLIC_URL must be https:// when NODE_ENV=production: Twilio refuses the ws:// stream URL an http:// origin gives (error 31920 on every call)',
    );
  }
  // Both carry a secret in every request (the OpenAI key; the Twilio auth token as Basic auth):
  // in production only encrypted, or to this machine (a local stand-in or a TLS-terminating proxy).
  if (production && typeof out.openaiRealtimeUrl === 'string' && out.openaiRealtimeUrl.startsWith('ws:') && !isLoopbackUrl(out.openaiRealtimeUrl)) {
    problems.push('OPENAI_REALTIME_URL must be wss:// when NODE_ENV=production (it carries the OpenAI API key), unless it is a loopback address');
  }
  if (production && typeof out.twilioApiBaseUrl === 'string' && out.twilioApiBaseUrl.startsWith('http:') && !isLoopbackUrl(out.twilioApiBaseUrl)) {
    problems.push('TWILIO_API_BASE_URL must be https:// when NODE_ENV=production (it carries the Twilio auth token), unless it is a loopback address');
  }
  if (present(env.TWILIO_PHONE_NUMBER) && !isE164(env.TWILIO_PHONE_NUMBER.trim())) {
    problems.push(`TWILIO_PHONE_NUMBER must be in E.164 form such as +15551234567`);
  }
  if (present(env.TRANSFER_NUMBER) && !isE164(env.TRANSFER_NUMBER.trim())) {
    problems.push(`TRANSFER_NUMBER must be in E.164 form such as +15551234567`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // Several workers: the webhook and its stream are two connections, which the primary hands to
  // different workers (round robin), so a pre-warm would nearly always be opened, held for 15 s
  // and wasted. Off unless asked for (docs/workers.md).
  if (out.workers !== 1 && !present(env.PREWARM)) out.prewarm = false;
  // DEBUG=true means debug level, unless LOG_LEVEL asks for something even more verbose.
  if (out.debug === true && out.logLevel !== 'trace') out.logLevel = 'debug';
  return Object.freeze(out) as Config;
}

/** Whether `url` names this machine (127.0.0.0/8, ::1, localhost). */
function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** E.164: a plus, then 2 to 15 digits, the first not zero. */
export function isE164(value: string): boolean {
  return /^\+[1-9]\d{1,14}$/.test(value);
}

/** The public `wss://` (or `ws://` for an `http://` PUBLIC_URL) origin Twilio connects to. */
export function publicWsBase(config: Pick<Config, 'publicUrl'>): string {
  return config.publicUrl.replace(/^http/, 'ws');
}

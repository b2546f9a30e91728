/**
 * Configuration: the environment, parsed and validated once into a frozen, typed object.
 *
 * The schema below is the single source of truth: `Config` is derived from it, so the type and
 * the validation cannot drift apart (the kinds of field it is made of are in config-fields.ts).
 * Every problem is collected and reported in one message, so an operator fixes a broken `.env` in one pass instead of one restart per mistake.
 */
import { recordSettings, RecordSettingsError, type RecordSettings } from './records/settings.js';
import { INVALID_FRAME_LIMIT } from './stream/invalid-frame-run.js';
import { bool, given, host, instanceId, int, keyPrefix, oneOf, optionalStr, present, prices, redisUrl, str, trustProxy, url, workers, type Env, type Field } from './config-fields.js';
export { MAX_WORKERS } from './config-fields.js';

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
  /**
   * Assistant profiles per called number (docs/assistants.md): a JSON file, checked at start and
   * reloaded on SIGHUP. Unset: one profile from OPENAI_INSTRUCTIONS, GREETING, TRANSFER_NUMBER….
   */
  assistantsFile: optionalStr('ASSISTANTS_FILE'),
  /**
   * USD per million tokens for OPENAI_MODEL, by direction and modality: calls on that model (and
   * no `prices` of their own) get an estimated cost. Unset: no cost is shown anywhere.
   */
  modelPrices: prices('MODEL_PRICES'),
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

export type Config = Readonly<{ [K in keyof Schema]: ValueOf<Schema[K]> }> & {
  /** CALL_RECORDS, CALLS_DB, DATABASE_URL, CALL_RECORDS_DAYS (src/records/settings.ts). */
  readonly records: RecordSettings;
};

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
  try {
    out.records = recordSettings(env);
  } catch (err) {
    if (!(err instanceof RecordSettingsError)) throw err;
    problems.push(...err.problems);
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

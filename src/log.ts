/**
 * Logging: pino with secrets redacted and stream tokens masked in request URLs.
 *
 * Redaction is by path (pino's fast-redact, compiled once), so it costs nothing on lines that
 * do not carry those keys. Debug lines are gated by pino's level check, so `log.debug(...)`
 * with a plain object is free when debug is off; nothing is logged per audio frame at any level.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { Config } from './config.js';
import { STREAM_PATH } from './twilio/stream-path.js';

/** Keys whose values must never reach a log line, wherever they appear (one level deep too). */
const SECRET_KEYS = [
  'authorization',
  'token',
  'streamSecret',
  'openaiApiKey',
  'twilioAuthToken',
  'apiToken',
  'metricsToken',
  'password',
  'secret',
];

export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["x-twilio-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
];

// (STREAM_PATH is letters and slashes: nothing in it a RegExp reads as special.) The optional
// `/i/<id>` is the INSTANCE_ID prefix: the proxy strips it, but a request that reaches the app
// unstripped (a proxy set up otherwise) must not log its token either.
const STREAM_TOKEN_IN_URL = new RegExp(`^((?:/i/[^/?#]+)?${STREAM_PATH}/)[^/?#]+`);

/** `[/i/<id>]/twilio/stream/<token>?x` → `[/i/<id>]/twilio/stream/***?x`: the token is a credential until it expires. */
export function maskUrl(url: string): string {
  return url.replace(STREAM_TOKEN_IN_URL, '$1***');
}

interface RequestLike {
  method?: string;
  url?: string;
  id?: string;
  headers?: Record<string, unknown>;
}

export function loggerOptions(config: Pick<Config, 'logLevel'>): LoggerOptions {
  return {
    level: config.logLevel,
    base: { service: 'voice-bridge' },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    serializers: {
      // Fastify logs `req` on each request: keep it small, mask tokens, and leave the client IP
      // out (the guard logs IPs only at debug, or hashed).
      req: (req: RequestLike) => ({
        method: req.method,
        url: maskUrl(req.url ?? ''),
        id: req.id,
        userAgent: req.headers?.['user-agent'],
      }),
      err: pino.stdSerializers.err,
    },
  };
}

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(config), destination) : pino(loggerOptions(config));
}

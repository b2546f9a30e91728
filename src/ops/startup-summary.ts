/**
 * What start-up tells the operator, as pure functions of the config (and the bound address), so
 * the words are unit tested and server.ts only logs them:
 * - `signatureWarning`: signature checks off, and how exposed that is;
 * - `startupSummary`: one line after listen with what the operator needs to wire Twilio up and
 *   to know what is running (webhook URLs, guard store, signatures, assistant profiles and their
 *   tools, drain, log level).
 */
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Config } from '../config.js';
import { streamUrl } from '../twilio/stream-path.js';
import { declaredToolNames } from '../calls/call-control.js';
import { createTwilioRest } from '../calls/twilio-rest.js';
import type { Assistants } from '../assistants/assistant.js';

export interface StartupLine {
  readonly level: 'warn' | 'error';
  readonly msg: string;
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Null when signatures are checked. Without TWILIO_AUTH_TOKEN the server listens on loopback
 * unless HOST says otherwise; a HOST that reaches the network is logged at error level, because
 * anyone who can reach it can mint stream tokens and open billed Realtime sessions.
 */
export function signatureWarning(config: Pick<Config, 'twilioAuthToken' | 'host' | 'hostExplicit' | 'port'>): StartupLine | null {
  if (config.twilioAuthToken) return null;
  if (isLoopbackHost(config.host)) {
    return {
      level: 'warn',
      msg:
        `TWILIO_AUTH_TOKEN is not set: webhook signatures are NOT checked; listening on ${config.host} only ` +
        '(set TWILIO_AUTH_TOKEN before exposing it to Twilio)',
    };
  }
  return {
    level: 'error',
    msg:
      `TWILIO_AUTH_TOKEN is not set and HOST=${config.host} was set${config.hostExplicit ? ' explicitly' : ''}: webhook signatures ` +
      `are NOT checked, so anyone who can reach port ${config.port} can open paid Realtime sessions unsigned. ` +
      'Set TWILIO_AUTH_TOKEN, or unset HOST to listen on 127.0.0.1 only',
  };
}

/** `http://host:port` of a bound socket (IPv6 in brackets). */
export function listenUrl(address: Pick<AddressInfo, 'address' | 'family' | 'port'>): string {
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** `memory`, or `redis host:port` (never the password or user). */
export function guardStoreLabel(config: Pick<Config, 'redisUrl'>): string {
  if (!config.redisUrl) return 'memory';
  const url = new URL(config.redisUrl);
  return `${url.protocol === 'rediss:' ? 'rediss' : 'redis'} ${url.hostname}:${url.port || '6379'}`;
}

export interface StartupSummary {
  readonly listening: string;
  /** Paste `voice` into the Twilio number's "A call comes in" webhook. */
  readonly webhooks: { readonly voice: string; readonly outbound: string; readonly streamStatus: string; readonly callStatus: string };
  readonly streamUrl: string;
  readonly guardStore: string;
  readonly signatures: 'on' | 'off';
  readonly assistants: AssistantsSummary;
  /** POST /calls (needs API_TOKEN). */
  readonly callsApi: 'on' | 'off';
  readonly transcriptsInLog: boolean;
  readonly drainTimeoutSeconds: number;
  readonly logLevel: string;
}

/** The profiles in force, as the start-up line shows them. */
export interface AssistantsSummary {
  /** ASSISTANTS_FILE (absolute), or null: one profile from the environment. */
  readonly file: string | null;
  readonly default: string;
  /** Called numbers mapped to a profile. */
  readonly numbers: number;
  /** Per profile: its model, voice, the tools its calls declare, and whether its calls are priced. */
  readonly profiles: Readonly<Record<string, { readonly model: string; readonly voice: string; readonly tools: readonly string[]; readonly priced: boolean }>>;
}

export function assistantsSummary(assistants: Assistants, hasRest: boolean): AssistantsSummary {
  return {
    file: assistants.source ?? null,
    default: assistants.default.name,
    numbers: Object.keys(assistants.numbers).length,
    profiles: Object.fromEntries(
      Object.values(assistants.byName).map((p) => [p.name, { model: p.model, voice: p.voice, tools: declaredToolNames(p, hasRest), priced: p.prices !== undefined }]),
    ),
  };
}

/** The start-up line's fields: everything here comes from config, the profiles and the bound address. */
export function startupSummary(
  config: Config,
  address: Pick<AddressInfo, 'address' | 'family' | 'port'>,
  assistants: Assistants,
): StartupSummary {
  const base = config.publicUrl;
  return {
    listening: listenUrl(address),
    webhooks: {
      voice: `${base}/twilio/voice`,
      outbound: `${base}/twilio/outbound`,
      streamStatus: `${base}/twilio/stream-status`,
      callStatus: `${base}/twilio/call-status`,
    },
    streamUrl: streamUrl(config, '<token>'),
    guardStore: guardStoreLabel(config),
    signatures: config.twilioAuthToken ? 'on' : 'off',
    // The same choice call control makes (no tools without REST); building the REST client does no I/O.
    assistants: assistantsSummary(assistants, createTwilioRest(config) !== null),
    callsApi: config.apiToken ? 'on' : 'off',
    transcriptsInLog: config.logTranscripts,
    drainTimeoutSeconds: config.drainTimeoutSeconds,
    logLevel: config.logLevel,
  };
}

/** The message of the summary line (its fields carry the details). */
export const STARTUP_SUMMARY_MSG = 'voice-bridge started';

/**
 * Where Twilio opens the Media Stream: `GET /twilio/stream/<token>`. The token travels in the
 * path because Twilio drops query strings from `<Stream url>`. The route, the guard, the TwiML,
 * the start-up summary and the log's token masking all take the path from here.
 *
 * With INSTANCE_ID set, the public URL gains a prefix, `/i/<INSTANCE_ID>`, that names the instance
 * which answered the webhook (and pre-warmed the call): the proxy routes on it and strips it, so
 * the app itself serves only `/twilio/stream/:token` (docs/multiple-instances.md).
 */
import { publicWsBase, type Config } from '../config.js';

/** The stream WebSocket's path, without the token segment. */
export const STREAM_PATH = '/twilio/stream';

/** The stream route as Fastify registers it (and as its request metrics are labelled). */
export const STREAM_ROUTE = `${STREAM_PATH}/:token`;

/**
 * The header in which the proxy names the prefix it stripped (deploy/Caddyfile.two-instances sets
 * it), so that an instance which did not answer the webhook still checks Twilio's signature
 * against the URL Twilio connected to.
 */
export const FORWARDED_PREFIX_HEADER = 'x-forwarded-prefix';

/** `/i/<id>`: the only prefix shape accepted from the proxy (INSTANCE_ID's own form). */
const INSTANCE_PREFIX = /^\/i\/[a-z0-9-]{1,32}$/;

type UrlConfig = Pick<Config, 'publicUrl'> & Partial<Pick<Config, 'instanceId'>>;

/** `/i/<INSTANCE_ID>`, or '' without one. */
export function instancePrefix(config: Partial<Pick<Config, 'instanceId'>>): string {
  return config.instanceId === undefined ? '' : `/i/${config.instanceId}`;
}

/** `wss://<PUBLIC_URL host>[/i/<INSTANCE_ID>]/twilio/stream`: every stream URL is this, `/`, and a token. */
export function streamUrlBase(config: UrlConfig): string {
  return publicWsBase(config) + instancePrefix(config) + STREAM_PATH;
}

/** `wss://<PUBLIC_URL host>[/i/<INSTANCE_ID>]/twilio/stream/<token>`: what the TwiML names and Twilio signs. */
export function streamUrl(config: UrlConfig, token: string): string {
  return `${streamUrlBase(config)}/${token}`;
}

/**
 * The stream URL base Twilio connected to, for checking its signature: the prefix the proxy says
 * it stripped (`/i/<id>`, maybe another instance's after a fail-over), else this instance's own.
 * A client can forge the header, but gains nothing: the signature must still be Twilio's over the
 * URL it names, and the token is checked on its own.
 */
export function connectedStreamUrlBase(config: UrlConfig, forwardedPrefix: string | string[] | undefined): string {
  const prefix = typeof forwardedPrefix === 'string' && INSTANCE_PREFIX.test(forwardedPrefix) ? forwardedPrefix : instancePrefix(config);
  return publicWsBase(config) + prefix + STREAM_PATH;
}

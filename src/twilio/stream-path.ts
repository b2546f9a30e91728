/**
 * Where Twilio opens the Media Stream: `GET /twilio/stream/<token>`. The token travels in the
 * path because Twilio drops query strings from `<Stream url>`. The route, the guard, the TwiML,
 * the start-up summary and the log's token masking all take the path from here.
 */
import { publicWsBase, type Config } from '../config.js';

/** The stream WebSocket's path, without the token segment. */
export const STREAM_PATH = '/twilio/stream';

/** The stream route as Fastify registers it (and as its request metrics are labelled). */
export const STREAM_ROUTE = `${STREAM_PATH}/:token`;

/** `wss://<PUBLIC_URL host>/twilio/stream`: every stream URL is this, `/`, and a token. */
export function streamUrlBase(config: Pick<Config, 'publicUrl'>): string {
  return publicWsBase(config) + STREAM_PATH;
}

/** `wss://<PUBLIC_URL host>/twilio/stream/<token>`: what the TwiML names and Twilio signs. */
export function streamUrl(config: Pick<Config, 'publicUrl'>, token: string): string {
  return `${streamUrlBase(config)}/${token}`;
}

/**
 * How long slow clients may hold an HTTP socket, as Fastify/Node server options.
 *
 * Without them a client sending its body a byte at a time kept its socket forever (still open
 * after 150 s), and 1,300 such sockets from one address exhausted the file descriptors. The
 * per-address connection cap (connection-cap.ts) bounds how many such sockets one address holds
 * meanwhile.
 *
 * None applies to a media stream once upgraded: Node's header and request timeouts only track
 * requests still being received by its HTTP parser, which an upgraded socket has left, and ws
 * clears the idle timeout when it takes the socket over; so calls run for hours
 * (test/guard/http-timeouts.test.ts keeps a silent stream open past all of them).
 */

/** How long slow clients may hold an HTTP socket, ms (HTTP_TIMEOUTS). */
export interface HttpTimeouts {
  /** Request line and headers; also a connection that sends nothing (408, closed). */
  readonly headersMs: number;
  /** The whole request, body included (408, closed). */
  readonly requestMs: number;
  /** An idle keep-alive socket between requests. */
  readonly keepAliveMs: number;
  /** A socket with no traffic either way (a client that never reads its response), closed. */
  readonly idleMs: number;
  /** How often Node checks requests against headersMs and requestMs. */
  readonly checkIntervalMs: number;
}

/**
 * Webhook bodies are a few hundred bytes (at most BODY_LIMIT_BYTES, 64 KiB): 10 s for a whole
 * request is generous. Handlers may take longer than that to answer (Twilio REST calls have their
 * own 10 s timeout): requestMs only counts until the request is received. keepAliveMs stays above
 * common proxies' 60 s idle timeout (Fastify's default), so none reuses a socket we are closing.
 * checkIntervalMs is 1 s because Node's default (30 s) would let a 10 s limit run to 40.
 */
export const HTTP_TIMEOUTS: HttpTimeouts = Object.freeze({
  headersMs: 5_000,
  requestMs: 10_000,
  keepAliveMs: 72_000,
  idleMs: 60_000,
  checkIntervalMs: 1_000,
});

/** The Fastify options that apply `t` to the HTTP server Fastify creates. */
export function serverTimeouts(t: HttpTimeouts) {
  return {
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionTimeout: t.idleMs,
    http: { headersTimeout: t.headersMs, connectionsCheckingInterval: t.checkIntervalMs },
  } as const;
}

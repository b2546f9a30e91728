/**
 * Which key an address is judged under.
 *
 * `request.ip` is the client address (the socket's, or with TRUST_PROXY the right-most untrusted
 * X-Forwarded-For hop, computed by Fastify), except when that hop is not an IP at all (`unknown`,
 * `garbage`, an address with a port): then the trusted hop that forwarded it is judged instead
 * (`judgedAddress`), so a client whose value a proxy passes on cannot mint a fresh guard key per
 * request. Then it is normalised (`clientKey`): IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a
 * dual-stack listener reports) becomes plain IPv4, and an IPv6 address is judged by its /64,
 * because one subscriber usually holds a whole /64 and could otherwise mint a fresh address for
 * every attempt. IPv6 is parsed by ipaddr.js, the parser proxy-addr (and so Fastify's
 * request.ip) already uses, rather than by hand; Node's isIP decides what is an IP at all, so
 * the loose IPv4 spellings ipaddr.js also accepts (`127.1`, `0x7f.0.0.1`) stay opaque keys.
 */
import { createHash, createHmac } from 'node:crypto';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** What a request is judged by: the parts of a Fastify request that name its client. */
export interface ClientOf {
  /** request.ip: undefined once the socket is gone. */
  readonly ip: string | undefined;
  /** request.ips (only under TRUST_PROXY): the socket's address, then the trusted hops, then request.ip. */
  readonly ips?: readonly string[] | undefined;
}

/**
 * The address to judge: request.ip when it is an IP; else the hop before it in request.ips (a
 * trusted proxy: proxy-addr trusts only IPs, so a non-IP always ends the walk, and the hop that
 * forwarded it is the last one we trust); else 'unknown' (the socket is gone), one shared key.
 */
export function judgedAddress(request: ClientOf): string {
  const ip = request.ip;
  if (ip === undefined) return 'unknown';
  if (isIP(ip) !== 0) return ip;
  const ips = request.ips;
  const hop = ips !== undefined && ips.length >= 2 ? ips[ips.length - 2] : undefined;
  return hop !== undefined && isIP(hop) !== 0 ? hop : 'unknown';
}

export function clientKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const v6 = ipaddr.IPv6.parse(ip); // a zone id (fe80::1%eth0) is kept apart from the groups
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  // The first four 16-bit groups, lower-case hex without leading zeros.
  return `${v6.parts
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/**
 * A short, stable label for an IP in info/warn logs (IPs in clear only at debug). Keyed, because
 * the IPv4 space is small enough to reverse a plain hash by trying every address; derived from
 * STREAM_SECRET so every instance labels an IP alike. 12 hex digits = 48 bits: enough to follow
 * one address through the logs.
 */
export function ipHasher(secret: string): (ip: string) => string {
  const key = createHmac('sha256', secret).update('voice-bridge/log-ip-label').digest();
  return (ip) => createHmac('sha256', key).update(ip).digest('hex').slice(0, 12);
}

/** Key for one user-agent + IP pair: the user-agent is hashed so a long header costs nothing to store. */
export function agentKey(ip: string, userAgent: string | undefined): string {
  const ua = createHash('sha256').update(userAgent ?? '').digest('base64url').slice(0, 16);
  return `${ip}|${ua}`;
}

/**
 * Client addresses behind trusted proxies, for the fast lane.
 *
 * With TRUST_PROXY the client is the right-most untrusted X-Forwarded-For hop, which Fastify
 * computes (request.ip). The fast lane runs before Fastify and cannot ask it; rather than
 * re-implement that walk and risk judging another address than the hook would, it reuses what
 * Fastify answered for the same inputs. request.ip depends only on the peer's address, the
 * X-Forwarded-For header and the trust list (fixed for the process), so an answer seen once by
 * the hook holds for every later request with the same pair. Under a flood through a proxy the
 * pairs repeat (the proxy, the attacker's address); a client that varies its header only makes
 * each of its requests take the hook, as without the lane.
 *
 * Bounded: at most `maxEntries` pairs, least recently used dropped first, and only headers up to
 * MAX_FORWARDED_CHARS are remembered (a 16 KiB header is not worth keeping).
 */

import { Lru } from '../lru.js';

/** Longest X-Forwarded-For value remembered, characters: a few hops of IPv6 addresses. */
export const MAX_FORWARDED_CHARS = 256;

export class ForwardedClients {
  /** `peer\nX-Forwarded-For` → client address. */
  readonly #ips: Lru<string, string>;

  /** @param maxEntries pairs held, ~0.4 KiB each at most. @default 10_000 */
  constructor(maxEntries = 10_000) {
    this.#ips = new Lru(maxEntries);
  }

  get size(): number {
    return this.#ips.size;
  }

  /** Records what Fastify computed (request.ip) for this peer and header. */
  learn(peer: string | undefined, forwardedFor: string | string[] | undefined, ip: string): void {
    const key = keyOf(peer, forwardedFor);
    if (key !== undefined) this.#ips.set(key, ip);
  }

  /** The client address Fastify would compute, if this pair was seen; else undefined. */
  lookup(peer: string | undefined, forwardedFor: string | string[] | undefined): string | undefined {
    const key = keyOf(peer, forwardedFor);
    return key === undefined ? undefined : this.#ips.get(key);
  }
}

/** Undefined for what is not remembered: no peer, a repeated header (an array), an over-long one. */
function keyOf(peer: string | undefined, forwardedFor: string | string[] | undefined): string | undefined {
  if (peer === undefined || Array.isArray(forwardedFor)) return undefined;
  const header = forwardedFor ?? '';
  if (header.length > MAX_FORWARDED_CHARS) return undefined;
  // A header value cannot hold a line break, so the pair is unambiguous.
  return `${peer}\n${header}`;
}

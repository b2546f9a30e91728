/**
 * Is a socket's peer one of the proxies TRUST_PROXY names? For decisions taken on the raw socket,
 * before any request exists to ask Fastify (whose request.ip applies the same list through
 * proxy-addr): the per-address connection cap must not count a trusted proxy as one client,
 * because every client behind it shares its address.
 *
 * It is proxy-addr's own trust function, compiled from the same list Fastify compiles, so the
 * two agree by construction (keywords, CIDRs, IPv4-mapped IPv6).
 */
import proxyAddr from '@fastify/proxy-addr';

/**
 * A predicate for "this peer address is a trusted proxy", from TRUST_PROXY's entries (IPs, CIDRs,
 * keywords; config.ts has validated them). `false` (TRUST_PROXY off) trusts nobody.
 */
export function trustedPeers(entries: readonly string[] | false): (address: string | undefined) => boolean {
  if (entries === false || entries.length === 0) return () => false;
  const trust = proxyAddr.compile([...entries]);
  // The hop index matters only to trust functions that count hops; a compiled list ignores it.
  return (address) => address !== undefined && trust(address, 0);
}

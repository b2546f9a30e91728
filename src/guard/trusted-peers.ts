/**
 * Is a socket's peer one of the proxies TRUST_PROXY names? For decisions taken on the raw socket,
 * before any request exists to ask Fastify (whose request.ip applies the same list through
 * proxy-addr): the per-address connection cap must not count a trusted proxy as one client,
 * because every client behind it shares its address.
 *
 * The keywords expand exactly as proxy-addr expands them.
 */
import { BlockList, isIP } from 'node:net';

const KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** The address as compared: IPv4-mapped IPv6 (a dual-stack listener's view of IPv4) as IPv4. */
export function plainAddress(address: string): string {
  return MAPPED_V4.exec(address)?.[1] ?? address;
}

/**
 * A predicate for "this peer address is a trusted proxy", from TRUST_PROXY's entries (IPs, CIDRs,
 * keywords; config.ts has validated them). `false` (TRUST_PROXY off) trusts nobody.
 */
export function trustedPeers(entries: readonly string[] | false): (address: string | undefined) => boolean {
  if (entries === false || entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries.flatMap((e) => KEYWORDS[e] ?? [e])) {
    const [addr = '', bits] = entry.split('/');
    const family = isIP(addr);
    if (family === 0) continue;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (address) => {
    if (address === undefined) return false;
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  };
}

import { describe, expect, it } from 'vitest';
import { agentKey, clientKey, ipHasher, judgedAddress } from '../../src/guard/client-ip.js';

describe('clientKey', () => {
  it('keeps IPv4 as it is and unmaps IPv4-mapped IPv6', () => {
    expect(clientKey('203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientKey('::FFFF:127.0.0.2')).toBe('127.0.0.2');
    expect(clientKey('::ffff:cb00:7109')).toBe('203.0.113.9'); // the same address in hex groups
  });

  it('judges IPv6 by its /64, however it is written', () => {
    const a = clientKey('2001:db8:0:1::1');
    expect(a).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:0db8:0000:0001:ffff:ffff:ffff:ffff')).toBe(a);
    expect(clientKey('2001:db8:0:2::1')).not.toBe(a);
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('passes through what is not an IP (Fastify reports undefined sockets oddly in tests)', () => {
    expect(clientKey('unknown')).toBe('unknown');
    // Loose IPv4 spellings that ipaddr.js would accept are not IPs to Node or Fastify: kept as they are.
    expect(clientKey('127.1')).toBe('127.1');
  });
});

describe('ipHasher', () => {
  it('is stable for one secret, differs across secrets, and never contains the IP', () => {
    const a = ipHasher('s'.repeat(32));
    const b = ipHasher('t'.repeat(32));
    expect(a('203.0.113.9')).toBe(a('203.0.113.9'));
    expect(a('203.0.113.9')).toMatch(/^[0-9a-f]{12}$/);
    expect(a('203.0.113.9')).not.toBe(a('203.0.113.10'));
    expect(a('203.0.113.9')).not.toBe(b('203.0.113.9'));
  });
});

describe('agentKey', () => {
  it('binds the IP to a short hash of the user-agent, whatever its length', () => {
    const k = agentKey('203.0.113.9', 'x'.repeat(10_000));
    expect(k).toMatch(/^203\.0\.113\.9\|[A-Za-z0-9_-]{16}$/);
    expect(agentKey('203.0.113.9', 'curl/8')).not.toBe(agentKey('203.0.113.9', 'python-requests'));
    expect(agentKey('203.0.113.9', undefined)).toBe(agentKey('203.0.113.9', ''));
  });
});

describe('judgedAddress', () => {
  it("is request.ip when it is an IP; otherwise the trusted hop that forwarded it; 'unknown' without a socket", () => {
    expect(judgedAddress({ ip: '203.0.113.9' })).toBe('203.0.113.9');
    expect(judgedAddress({ ip: '2001:db8::1', ips: ['10.0.0.1', '2001:db8::1'] })).toBe('2001:db8::1');
    // Peer 10.0.0.1 (trusted) forwarded "garbage": the peer is judged, not the value it passed on.
    expect(judgedAddress({ ip: 'garbage', ips: ['10.0.0.1', 'garbage'] })).toBe('10.0.0.1');
    expect(judgedAddress({ ip: 'unknown', ips: ['10.0.0.1', '10.0.0.2', 'unknown'] })).toBe('10.0.0.2');
    expect(judgedAddress({ ip: '198.51.100.1:4711', ips: ['10.0.0.1', '198.51.100.1:4711'] })).toBe('10.0.0.1');
    expect(judgedAddress({ ip: undefined })).toBe('unknown');
    expect(judgedAddress({ ip: 'garbage' })).toBe('unknown');
  });
});

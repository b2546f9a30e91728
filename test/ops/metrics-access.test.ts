import { describe, expect, it } from 'vitest';
import { isLoopback, metricsAccess } from '../../src/ops/metrics-access.js';

describe('metrics access', () => {
  it('knows loopback addresses in every form a socket reports', () => {
    for (const ip of ['127.0.0.1', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3']) expect(isLoopback(ip), ip).toBe(true);
    for (const ip of ['128.0.0.1', '10.0.0.1', '::2', '::ffff:10.0.0.1', '1127.0.0.1', '127.0.0.1.example', '']) {
      expect(isLoopback(ip), ip).toBe(false);
    }
  });

  it('with a token, the token is the only rule; without, the address is', () => {
    expect(metricsAccess({ token: 't0k', authorization: 'Bearer t0k', ip: '203.0.113.1' })).toBe('allow');
    expect(metricsAccess({ token: 't0k', authorization: undefined, ip: '127.0.0.1' })).toBe('bad_token');
    expect(metricsAccess({ token: 't0k', authorization: 'Bearer t0kk', ip: '127.0.0.1' })).toBe('bad_token');
    expect(metricsAccess({ token: 't0k', authorization: 'Basic t0k', ip: '127.0.0.1' })).toBe('bad_token');
    expect(metricsAccess({ token: undefined, authorization: undefined, ip: '127.0.0.1' })).toBe('allow');
    expect(metricsAccess({ token: undefined, authorization: 'Bearer x', ip: '203.0.113.1' })).toBe('not_loopback');
  });
});

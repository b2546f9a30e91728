/**
 * The refusal reasons' registry: codes are stable names on the wire (bodies, metrics labels, log
 * lines), so each key must be its code, and every reason the guard can send or count is in it.
 */
import { describe, expect, it } from 'vitest';
import { REASONS, type RefusalReason } from '../../src/guard/reasons.js';
import { rawRefusal } from '../../src/guard/refuse.js';

describe('refusal reasons', () => {
  it('each key equals its code', () => {
    for (const [key, spec] of Object.entries(REASONS)) expect(spec.code).toBe(key);
  });

  it('codes are lower snake case, with a message and only refusal statuses', () => {
    for (const spec of Object.values(REASONS)) {
      expect(spec.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(spec.message.length).toBeGreaterThan(0);
      for (const status of spec.statuses) expect([401, 403, 409, 429, 503]).toContain(status);
    }
  });

  it('a refusal body carries the code', () => {
    for (const [reason, spec] of Object.entries(REASONS) as [RefusalReason, (typeof REASONS)[RefusalReason]][]) {
      for (const status of spec.statuses) {
        const body = rawRefusal({ status, reason }).split('\r\n\r\n')[1] ?? '';
        expect((JSON.parse(body) as { reason: string }).reason).toBe(spec.code);
      }
    }
  });

  it('docs/metrics.md lists every code', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
    const line = doc.split('\n').find((l) => l.startsWith('| `rejections_total`')) ?? '';
    for (const code of Object.keys(REASONS)) expect(line).toContain(`\`${code}\``);
  });
});

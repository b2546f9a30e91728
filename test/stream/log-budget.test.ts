import { describe, expect, it } from 'vitest';
import { LogBudget } from '../../src/stream/log-budget.js';

describe('LogBudget', () => {
  it('lets `perKind` lines of each kind through, then counts the rest by kind', () => {
    const budget = new LogBudget(2);
    expect([budget.take('a'), budget.take('a'), budget.take('a'), budget.take('a')]).toEqual([true, true, false, false]);
    expect(budget.take('b')).toBe(true);
    expect(budget.heldBack()).toEqual({ a: 2 });
  });

  it('holds nothing back while under budget', () => {
    const budget = new LogBudget();
    for (let i = 0; i < 5; i += 1) expect(budget.take('x')).toBe(true);
    expect(budget.heldBack()).toBeUndefined();
  });
});

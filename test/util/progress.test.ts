import { describe, it, expect } from 'vitest';
import { etaSeconds, formatEta } from '../../src/util/progress.js';

// Issue 19 item 7: the training bar showed a 32-minute ETA in a 6-minute budget.
describe('progress ETA', () => {
  it('is the rate-based estimate, never past the deadline of a time budget', () => {
    const now = 1_000_000;
    expect(etaSeconds(1000, 0.5, undefined, now)).toBe(2000);
    expect(etaSeconds(1000, 0.5, now + 6 * 60_000, now)).toBe(360);
    expect(etaSeconds(10, 0.5, now + 6 * 60_000, now)).toBe(20);
    expect(etaSeconds(10, 0.5, now - 5000, now)).toBe(0);
    expect(etaSeconds(10, 0, undefined, now)).toBe(Infinity);
  });
  it('reads as the bar shows it', () => {
    expect([formatEta(45), formatEta(725), formatEta(11_220), formatEta(Infinity)]).toEqual(['45s', '12m05s', '3h07m', '--']);
  });
});

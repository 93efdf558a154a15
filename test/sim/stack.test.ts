import { describe, expect, it } from 'vitest';
import { toNamedFeatures } from '../../sim/stack.ts';

// The simulator against the engine itself: stack.http.test.ts.
describe('features sent through the stack', () => {
  it('maps dense arrays to named features', () => {
    expect(toNamedFeatures([3, 4])).toEqual({ 0: 3, 1: 4 });
    expect(toNamedFeatures({ plan: 'gold' })).toEqual({ plan: 'gold' });
  });
});

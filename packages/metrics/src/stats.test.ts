import { describe, expect, it } from 'vitest';
import { MetricsInputError } from './errors.js';
import {
  histogram,
  mcnemarExact,
  normalQuantile,
  proportion,
  quantileSorted,
  summarize,
  wilsonInterval,
} from './stats.js';

describe('normalQuantile', () => {
  it('matches published quantiles of the standard normal', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 13);
    expect(normalQuantile(0.995)).toBeCloseTo(2.5758293035489, 12);
    expect(normalQuantile(0.9)).toBeCloseTo(1.2815515655446004, 13);
    expect(normalQuantile(0.5)).toBe(0);
    // the far tail takes the third branch of AS 241
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 10);
    expect(normalQuantile(0.025)).toBeCloseTo(-normalQuantile(0.975), 14);
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(() => normalQuantile(1.5)).toThrow(
      /normalQuantile: p: expected a probability in \[0, 1\], found 1.5/,
    );
  });
});

describe('wilsonInterval', () => {
  it('gives the hand-computed 95% interval of 8/10: [0.4902, 0.9433]', () => {
    // p = 0.8, z = 1.95996, z^2/n = 0.38415: centre (0.8 + 0.19208) / 1.38415 = 0.71674,
    // half 1.95996 * sqrt(0.016 + 0.009604) / 1.38415 = 0.22658
    const { lower, upper } = wilsonInterval(8, 10);
    expect(lower).toBeCloseTo(0.4902, 4);
    expect(upper).toBeCloseTo(0.9433, 4);
    expect(lower).toBeCloseTo(0.49016247153664183, 12);
    expect(upper).toBeCloseTo(0.9433178485456247, 12);
  });

  it('handles other levels and the edges 0/n and n/n exactly', () => {
    const w99 = wilsonInterval(8, 10, { confidence: 0.99 });
    expect(w99.lower).toBeCloseTo(0.4008186965216717, 12);
    expect(w99.upper).toBeCloseTo(0.9598688474953835, 12);
    // 0/n: [0, z^2 / (n + z^2)]
    const z2 = 1.959963984540054 ** 2;
    expect(wilsonInterval(0, 10)).toEqual({ lower: 0, upper: expect.closeTo(z2 / (10 + z2), 12) });
    expect(wilsonInterval(10, 10)).toEqual({ lower: expect.closeTo(10 / (10 + z2), 12), upper: 1 });
    expect(wilsonInterval(0, 0)).toEqual({ lower: 0, upper: 1 });
    const half = wilsonInterval(500, 1000);
    expect(half.lower).toBeCloseTo(0.4690696003681042, 12);
    expect(half.upper).toBeCloseTo(1 - 0.4690696003681042, 12);
  });

  it('refuses impossible counts and levels, naming the argument', () => {
    expect(() => wilsonInterval(11, 10)).toThrow(MetricsInputError);
    expect(() => wilsonInterval(11, 10)).toThrow(
      'wilsonInterval: successes: expected an integer in [0, n=10], found 11',
    );
    expect(() => wilsonInterval(1.5, 10)).toThrow(/found 1.5/);
    expect(() => wilsonInterval(1, 10, { confidence: 95 })).toThrow(
      'wilsonInterval: options.confidence: expected a number in (0, 1), e.g. 0.95, found 95',
    );
  });
});

describe('proportion', () => {
  it('carries the count, n, value and interval together', () => {
    expect(proportion(3, 4)).toEqual({
      count: 3,
      n: 4,
      value: 0.75,
      ...wilsonInterval(3, 4),
      confidence: 0.95,
    });
    expect(proportion(0, 0).value).toBeNaN();
  });
});

describe('summarize and quantiles', () => {
  it('uses linear interpolation between order statistics (numpy default)', () => {
    const s = [1, 2, 3, 4];
    expect(quantileSorted(s, 0.25)).toBe(1.75);
    expect(quantileSorted(s, 0.5)).toBe(2.5);
    expect(quantileSorted(s, 0)).toBe(1);
    expect(quantileSorted(s, 1)).toBe(4);
    expect(quantileSorted([7], 0.3)).toBe(7);
  });

  it('summarises unsorted values: mean, sample std, quantiles', () => {
    const s = summarize(Float32Array.of(3, 1, 4, 2));
    expect(s).toEqual({
      n: 4,
      mean: 2.5,
      std: expect.closeTo(Math.sqrt(5 / 3), 14), // sum of squares 5, n - 1 = 3
      min: 1,
      q05: expect.closeTo(1.15, 14),
      q25: 1.75,
      median: 2.5,
      q75: 3.25,
      q95: expect.closeTo(3.85, 14),
      max: 4,
    });
    expect(summarize([5]).std).toBe(0);
    expect(summarize([])).toEqual({
      n: 0,
      mean: null,
      std: null,
      min: null,
      q05: null,
      q25: null,
      median: null,
      q75: null,
      q95: null,
      max: null,
    });
    expect(() => summarize([1, Number.NaN])).toThrow(
      'summarize: values[1]: expected a finite number, found NaN',
    );
  });
});

describe('histogram', () => {
  it('bins [edge, next) with the last bin closed, counting what falls outside', () => {
    const h = histogram([0, 5, 5, 9.999, 179.9, 180, -1, 181], { bins: 36 });
    expect(h.edges).toHaveLength(37);
    expect(h.edges[1]).toBe(5);
    expect(h.edges[36]).toBe(180);
    expect(h.counts[0]).toBe(1);
    expect(h.counts[1]).toBe(3);
    expect(h.counts[35]).toBe(2);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(6);
    expect([h.below, h.above]).toEqual([1, 1]);
  });

  it('puts values on a floating-point edge in the bin numpy would', () => {
    // edges are lo + i * width: edge 3 of [0, 1] in 10 bins is 0.30000000000000004 > 0.3
    const h = histogram([0.3, 0.7, 0.1 + 0.2], { bins: 10, range: [0, 1] });
    expect(h.counts[2]).toBe(1); // 0.3
    expect(h.counts[6]).toBe(1); // 0.7 < 0.7000000000000001
    expect(h.counts[3]).toBe(1); // 0.30000000000000004 sits on edge 3
    expect(() => histogram([1], { bins: 0 })).toThrow(
      /options.bins: expected an integer >= 1, found 0/,
    );
  });
});

describe('mcnemarExact', () => {
  it('matches the binomial tail computed by hand', () => {
    expect(mcnemarExact(0, 10)).toBeCloseTo(2 / 1024, 12);
    // P(X <= 3), X ~ Binomial(10, 1/2) = (1 + 10 + 45 + 120) / 1024
    expect(mcnemarExact(3, 7)).toBeCloseTo((2 * 176) / 1024, 12);
    expect(mcnemarExact(7, 3)).toBeCloseTo((2 * 176) / 1024, 12);
    expect(mcnemarExact(5, 5)).toBe(1);
    expect(mcnemarExact(0, 0)).toBe(1);
  });

  it('agrees with exact integer arithmetic for large counts', () => {
    const onlyA = 430;
    const onlyB = 530;
    const n = BigInt(onlyA + onlyB);
    let c = 1n;
    let sum = 1n;
    for (let i = 1n; i <= BigInt(onlyA); i++) {
      c = (c * (n - i + 1n)) / i;
      sum += c;
    }
    // 2 * sum / 2^n, in float64 through a 60-bit scaled division
    const scaled = (2n * sum * 2n ** 60n) / 2n ** n;
    const expected = Number(scaled) / 2 ** 60;
    expect(mcnemarExact(onlyA, onlyB)).toBeCloseTo(expected, 10);
  });

  it('refuses counts that are not non-negative integers', () => {
    expect(() => mcnemarExact(-1, 2)).toThrow(/onlyA must be a non-negative integer/);
    expect(() => mcnemarExact(1, 2.5)).toThrow(/onlyB/);
  });
});

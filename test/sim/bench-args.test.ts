import { describe, expect, it } from 'vitest';
import { generatorCount, HELP, parseBenchArgs, QUICK_DEFAULT, type BenchArgs } from '../../bench/args.js';
import { BENCHMARKS } from '../../bench/targets.js';
import { shares } from '../../bench/spread-load.js';
import { ProgressLine } from '../../bench/progress.js';

const parse = (...argv: string[]): BenchArgs => {
  const args = parseBenchArgs(argv);
  if (typeof args === 'string') throw new Error(args);
  return args;
};

describe('npm run bench options', () => {
  it('writes nothing by default; --write updates the committed files; --no-write is still accepted', () => {
    expect(parse().write).toBe(false);
    expect(parse().out).toBeNull();
    expect(parse('--write').write).toBe(true);
    expect(parse('--write', '--no-write').write).toBe(false);
    expect(parse('--out', '/tmp/x').out).toBe('/tmp/x');
    expect(parse('--out=/tmp/y').out).toBe('/tmp/y');
  });

  it('runs everything by default; --quick leaves flood, soak and first-audio out unless named, and profiles off', () => {
    expect(parse().only).toEqual([...BENCHMARKS]);
    expect(parse().profile).toBe(true);
    const quick = parse('--quick');
    expect(quick.only).toEqual([...QUICK_DEFAULT]);
    expect(quick.only).not.toContain('flood');
    expect(quick.only).not.toContain('soak');
    expect(quick.profile).toBe(false);
    expect(parse('--quick', '--only', 'flood,soak').only).toEqual(['flood', 'soak']);
    expect(parse('--quick', '--profile').profile).toBe(true);
  });

  it('takes call counts, window and generator processes, and refuses nonsense with a readable message', () => {
    const a = parse('--calls', '300,600,1000', '--baselines=none', '--latency-calls', '500', '--window', '8', '--generators', '15', '--settle', '15');
    expect(a.settleS).toBe(15);
    expect(parse().settleS).toBeNull();
    expect(a.calls).toEqual([300, 600, 1000]);
    expect(a.baselines).toEqual([]);
    expect(a.latencyCalls).toEqual([500]);
    expect(a.windowS).toBe(8);
    expect(a.generators).toBe(15);
    expect(parse().generators).toBe('auto');
    expect(parseBenchArgs(['--calls', '300,x'])).toMatch(/--calls takes a comma list/);
    expect(parseBenchArgs(['--calls', '0'])).toMatch(/--calls takes a comma list/);
    expect(parseBenchArgs(['--only', 'capacity,nope'])).toMatch(/--only takes a comma list of message-rate/);
    expect(parseBenchArgs(['--generators', '0'])).toMatch(/--generators/);
    expect(parseBenchArgs(['--window', '-1'])).toMatch(/--window/);
    expect(parseBenchArgs(['--out'])).toMatch(/--out needs a folder/);
    expect(parseBenchArgs(['--frobnicate'])).toBe('unknown option --frobnicate');
  });

  it('--help explains every benchmark and every option', () => {
    expect(parseBenchArgs(['--help'])).toBe('help');
    expect(parseBenchArgs(['-h'])).toBe('help');
    for (const name of BENCHMARKS) expect(HELP).toMatch(new RegExp(`^  ${name} `, 'm'));
    for (const flag of ['--only', '--quick', '--write', '--out', '--calls', '--baselines', '--latency-calls', '--window', '--settle', '--generators', '--profile', '--no-profile', '--report-only', '--no-write', '--help']) {
      expect(HELP, flag).toContain(flag);
    }
    expect(HELP).toContain('relay-floor.ts');
    expect(HELP).toContain('relay-naive.ts');
  });

  it('spreads the load only where there are more than 2 CPUs, one generator per CPU after the bridge', () => {
    expect(generatorCount('auto', 2)).toBe(1);
    expect(generatorCount('auto', 1)).toBe(1);
    expect(generatorCount('auto', 16)).toBe(15);
    expect(generatorCount(3, 2)).toBe(3);
    expect(shares(1000, 15)).toHaveLength(15);
    expect(shares(1000, 15).reduce((a, b) => a + b, 0)).toBe(1000);
    expect(Math.max(...shares(1000, 15)) - Math.min(...shares(1000, 15))).toBeLessThanOrEqual(1);
    expect(shares(2, 3)).toEqual([1, 1, 0]);
  });
});

describe('progress line', () => {
  it('prints a step when it changes, at most once a second, and a reminder after 30 s of the same step', () => {
    let t = 0;
    const lines: string[] = [];
    const p = new ProgressLine((l) => lines.push(l), () => t);
    p.set('capacity: bridge, ramping to 300 calls');
    t = 200;
    p.set('capacity: bridge, 300 calls, measuring 10 s');
    expect(lines).toEqual(['[bench 0:00] capacity: bridge, ramping to 300 calls\n']);
    t = 1200;
    p.flush();
    expect(lines.at(-1)).toBe('[bench 0:01] capacity: bridge, 300 calls, measuring 10 s\n');
    t = 20_000;
    p.flush();
    expect(lines).toHaveLength(2);
    t = 31_300;
    p.flush();
    expect(lines.at(-1)).toBe('[bench 0:31] capacity: bridge, 300 calls, measuring 10 s (still)\n');
    p.stop();
  });
});

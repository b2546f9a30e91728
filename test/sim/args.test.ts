import { describe, expect, it } from 'vitest';
import { checkTarget, isLoopbackAddress, parseSimulateArgs, type SimulateOptions } from '../../tools/sim/args.js';

function ok(argv: string[], env: Record<string, string> = {}): SimulateOptions {
  const r = parseSimulateArgs(argv, env);
  if (!r.ok) throw new Error(`expected options, got ${JSON.stringify(r)}`);
  return r.options;
}
function errors(argv: string[]): readonly string[] {
  const r = parseSimulateArgs(argv);
  if (r.ok) throw new Error('expected errors');
  return r.errors;
}

describe('parseSimulateArgs', () => {
  it('reads every option, in both --name value and --name=value forms', () => {
    const o = ok([
      '--url', 'http://127.0.0.1:3000',
      '--public-url=https://voice.example.com',
      '--auth-token', 'tok',
      '--calls', '20',
      '--duration=15',
      '--concurrency', '5',
      '--ramp', '10',
      '--gap', '2000',
      '--local-realtime',
      '--realtime-port', '9000',
      '--flood', '--flood-ips', '300', '--flood-seconds', '4', '--flood-concurrency', '64',
      '--metrics-token', 'm',
      '--json',
    ]);
    expect(o.url?.href).toBe('http://127.0.0.1:3000/');
    expect(o.publicUrl).toBe('https://voice.example.com');
    expect(o).toMatchObject({
      authToken: 'tok',
      calls: 20,
      durationS: 15,
      concurrency: 5,
      rampPerSecond: 10,
      gapMs: 2000,
      localRealtime: true,
      realtimePort: 9000,
      spawnBridge: false,
      flood: { ips: 300, seconds: 4, concurrency: 64 },
      metricsToken: 'm',
      json: true,
    });
  });

  it('has defaults: one 10 s call, unsigned unless TWILIO_AUTH_TOKEN is in the environment', () => {
    const o = ok(['--url', 'http://127.0.0.1:3000']);
    expect(o).toMatchObject({ calls: 1, durationS: 10, concurrency: 1, gapMs: 7000, localRealtime: false, flood: null, authToken: undefined });
    expect(ok(['--url', 'http://127.0.0.1:3000'], { TWILIO_AUTH_TOKEN: 'from-env' }).authToken).toBe('from-env');
  });

  it('--spawn-bridge needs no --url, implies the local stand-in on a free port, and refuses --url', () => {
    const o = ok(['--spawn-bridge', '--calls', '3']);
    expect(o).toMatchObject({ url: null, spawnBridge: true, localRealtime: true, realtimePort: 0, concurrency: 3 });
    expect(errors(['--spawn-bridge', '--url', 'http://127.0.0.1:3000'])).toEqual(['--spawn-bridge starts its own bridge: leave out --url']);
  });

  it('reports every problem at once, naming the option and the bad value', () => {
    const e = errors(['--calls', 'many', '--duration', '0', '--url', 'ftp://x', '--bogus', 'stray', '--flood-ips', '5']);
    expect(e).toEqual(
      expect.arrayContaining([
        '--calls must be a whole number from 1 to 5000 (got "many")',
        '--duration must be a whole number from 1 to 3600 (got "0")',
        '--url must be an http:// or https:// URL, the bridge\'s web address (got "ftp://")',
        'unknown option --bogus',
        'unexpected argument "stray"',
        '--flood-ips needs --flood',
      ]),
    );
    expect(e).toHaveLength(6);
  });

  it('requires --url unless spawning, and a value after each valued option', () => {
    expect(errors([])).toEqual(['--url is required (or use --spawn-bridge for a self-contained run)']);
    expect(errors(['--url'])).toContain('--url needs a value');
    expect(errors(['--calls', '--json', '--url', 'http://127.0.0.1:1'])).toEqual(['--calls needs a value']);
  });

  it('keeps runs bounded: calls, duration and flood length have caps', () => {
    expect(errors(['--url', 'http://127.0.0.1:1', '--calls', '5001'])).toHaveLength(1);
    expect(errors(['--url', 'http://127.0.0.1:1', '--duration', '3601'])).toHaveLength(1);
    expect(errors(['--url', 'http://127.0.0.1:1', '--flood', '--flood-seconds', '61'])).toHaveLength(1);
  });

  it('allows --calls 0 only for a flood-only run, which must target loopback', () => {
    expect(errors(['--url', 'http://127.0.0.1:1', '--calls', '0'])).toHaveLength(1);
    expect(ok(['--url', 'http://127.0.0.1:1', '--calls', '0', '--flood']).calls).toBe(0);
    expect(errors(['--url', 'http://10.0.0.5:3000', '--flood'])).toEqual([
      '--flood needs a loopback --url (127.x.y.z): its source addresses are 127.1.x.y (got 10.0.0.5)',
    ]);
  });

  it('--help asks for the usage, whatever else is given', () => {
    expect(parseSimulateArgs(['--calls', 'x', '--help'])).toEqual({ ok: false, help: true, errors: [] });
  });
});

describe('target checks', () => {
  it('knows loopback addresses', () => {
    expect(isLoopbackAddress('127.0.0.1')).toBe(true);
    expect(isLoopbackAddress('127.1.2.3')).toBe(true);
    expect(isLoopbackAddress('[::1]')).toBe(true);
    expect(isLoopbackAddress('10.0.0.1')).toBe(false);
  });

  it('accepts loopback and refuses an address that is not this machine', async () => {
    expect(await checkTarget(new URL('http://127.0.0.1:3000'))).toBeNull();
    expect(await checkTarget(new URL('http://[::1]:3000'))).toBeNull();
    expect(await checkTarget(new URL('http://192.0.2.10:3000'))).toBe(
      '192.0.2.10 (192.0.2.10) is not this machine: the simulator only targets loopback or this host\'s own addresses',
    );
  });
});

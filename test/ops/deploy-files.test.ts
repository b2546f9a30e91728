/**
 * The Dockerfile, compose.yaml and systemd unit cannot be run here (no Docker engine, no systemd
 * as PID 1), so this checks what can be checked: the files the image copies exist and are not
 * excluded from the build context, the command it names runs the compiled server, its HEALTHCHECK
 * command works against a real server, every stop timeout outlasts the drain, the unit's
 * ExecStart is a server that drains on SIGTERM, and `systemd-analyze verify` accepts the unit.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, SERVER_JS, startInPackageDir, startServerProcess } from '../helpers/server-process.js';
import { testEnv, testConfig } from '../helpers/config.js';
import { freePort } from './caddy-process.js';
import { closeAfterEach } from '../helpers/close-after-each.js';

const read = (name: string) => readFileSync(join(ROOT, name), 'utf8');
const dockerfile = read('Dockerfile');
/** Instructions with their continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const DRAIN_DEFAULT_S = testConfig().drainTimeoutSeconds;

const track = closeAfterEach();

function run(cmd: string[], env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0] === 'node' ? process.execPath : cmd[0]!, cmd.slice(1), {
      env: { PATH: process.env.PATH, ...env },
      stdio: 'ignore',
    });
    child.once('exit', (code) => resolve(code));
  });
}

describe('Dockerfile', () => {
  it('builds on Node 24 slim in two stages, production dependencies only in the final one', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toEqual(['FROM node:24-slim AS build', 'FROM node:24-slim']);
    const final = instructions.slice(instructions.indexOf('FROM node:24-slim'));
    expect(final).toContain('RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force');
    expect(final).toContain('COPY --from=build /app/dist ./dist');
    expect(final).toContain('USER node');
    // The call records' directory (CALLS_DB default ./data/calls.db), writable by that user.
    expect(final.indexOf('RUN mkdir -p /app/data && chown node:node /app/data')).toBeLessThan(final.indexOf('USER node'));
    expect(final).toContain('STOPSIGNAL SIGTERM');
    expect(final.at(-1)).toBe('CMD ["node", "dist/server.js"]');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const copies = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    expect(copies.length).toBeGreaterThanOrEqual(3);
    for (const copy of copies) {
      const sources = copy.split(/\s+/).slice(1, -1);
      for (const source of sources) {
        expect(existsSync(join(ROOT, source)), source).toBe(true);
        const top = source.replace(/^\.\//, '').split('/')[0]!;
        expect(ignored, source).not.toContain(top);
      }
    }
    // What the build stage compiles must include the build config and every source file's root.
    expect(dockerfile).toMatch(/COPY tsconfig\.json tsconfig\.build\.json/);
    expect(JSON.parse(read('tsconfig.build.json')).include).toEqual(['src']);
  });

  it('its CMD target is what `npm run build` produces and what package.json starts', () => {
    expect(existsSync(SERVER_JS)).toBe(true);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; main: string };
    expect(pkg.scripts.start).toBe('exec node dist/server.js');
    expect(pkg.main).toBe('dist/server.js');
  });

  it('skips install scripts safely: no dependency needs one (bufferutil loads its prebuilt binary without it)', () => {
    // Both stages run `npm ci --ignore-scripts` so that `prepare` (tsc) does not run there; a
    // dependency whose install step builds something would then be silently left unbuilt.
    const npmCis = instructions.filter((l) => l.startsWith('RUN npm ci'));
    expect(npmCis).toHaveLength(2);
    for (const line of npmCis) expect(line).toContain('--ignore-scripts');
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { hasInstallScript?: boolean; optional?: boolean }> };
    const withScripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript === true);
    // The one exception: ws's optional native masking (bufferutil). Its install step only compiles
    // where no prebuilt binary matches; the package ships them (linux-x64 included) and picks one
    // when loaded, and ws falls back to JavaScript if it cannot load at all.
    expect(withScripts.map(([name]) => name)).toEqual(['node_modules/bufferutil']);
    expect(withScripts[0]![1].optional).toBe(true);
  });

  it('bufferutil loads from its prebuilt binary, with no install step run (as in the image)', () => {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('bufferutil/package.json'));
    expect(existsSync(join(root, 'build'))).toBe(false); // nothing was compiled here
    const bufferutil = require('bufferutil') as { mask: (...a: unknown[]) => void; unmask: (b: Buffer, m: Buffer) => void };
    const data = Buffer.from([1, 2, 3, 4, 5]);
    bufferutil.unmask(data, Buffer.from([1, 1, 1, 1]));
    expect([...data]).toEqual([0, 3, 2, 5, 4]);
  });

  it('its HEALTHCHECK command passes against a running server and fails when nothing listens', async () => {
    const line = instructions.find((l) => l.startsWith('HEALTHCHECK '))!;
    const cmd = JSON.parse(line.slice(line.indexOf('CMD ') + 4)) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    const server = track(await startServerProcess(testEnv()));
    expect(await run(cmd, { PORT: String(server.port) })).toBe(0);
    expect(await run(cmd, { PORT: String(await freePort()) })).toBe(1);
  });
});

describe('compose.yaml', () => {
  it('gives the app (and Caddy) longer than DRAIN_TIMEOUT_SECONDS to stop', () => {
    const compose = read('compose.yaml');
    const graces = [...compose.matchAll(/stop_grace_period: (\d+)m/g)].map((m) => Number(m[1]) * 60);
    expect(graces.length).toBe(2);
    for (const g of graces) expect(g).toBeGreaterThan(DRAIN_DEFAULT_S);
    // The app trusts exactly Caddy's fixed address.
    const trusted = /TRUST_PROXY: (\S+)/.exec(compose)?.[1];
    const caddyBlock = compose.slice(compose.indexOf('  caddy:'), compose.indexOf('  redis:'));
    expect(caddyBlock).toContain(`ipv4_address: ${trusted}`);
    expect(compose).toMatch(/profiles: \["redis"\]/);
    // The read-only app container keeps its call records (SQLite) on a named volume.
    const appBlock = compose.slice(compose.indexOf('  app:'), compose.indexOf('  caddy:'));
    expect(appBlock).toContain('read_only: true');
    expect(appBlock).toContain('- call_records:/app/data\n');
    expect(compose).toMatch(/^volumes:\n(?: {2}\w+:\n)* {2}call_records:$/m);
    // caddy:2 is 2.7+: it gets the keep-calls-on-reload snippet of the shipped Caddyfile.
    expect(caddyBlock).toContain('image: caddy:2\n');
    expect(caddyBlock).toContain('CADDY_ON_RELOAD: keep_calls_on_reload\n');
    expect(caddyBlock).toContain('- ./Caddyfile:/etc/caddy/Caddyfile:ro\n');
    expect(read('Caddyfile')).toMatch(/^\(keep_calls_on_reload\) \{\n\tstream_close_delay 1h\n\}$/m);
  });
});

describe('the systemd unit (deploy/voice-bridge.service)', () => {
  const UNIT = 'deploy/voice-bridge.service';
  const unit = read(UNIT);
  /** Key=value lines, comments dropped. */
  const settings = unit
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[A-Za-z]+=/.test(l));
  const setting = (key: string) => settings.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  const execStart = setting('ExecStart')[0]!.split(' ');

  it('runs node itself, found on PATH (tarball in /usr/local/bin or a package in /usr/bin), never npm', () => {
    expect(setting('ExecStart')).toEqual(['/usr/bin/env node dist/server.js']);
    expect(setting('WorkingDirectory')).toEqual(['/opt/voice-bridge']);
    expect(settings.filter((l) => l.includes('npm'))).toEqual([]);
    expect(setting('Restart')).toEqual(['on-failure']);
  });

  it('stops by draining: SIGTERM to node alone (KillMode=mixed), SIGKILL only after the drain could have ended', () => {
    expect(setting('KillMode')).toEqual(['mixed']);
    expect(setting('KillSignal')).toEqual(['SIGTERM']);
    const [timeout] = setting('TimeoutStopSec');
    const seconds = Number(/^(\d+)min$/.exec(timeout!)?.[1]) * 60;
    // The drain, then app.close() (up to 10 s in server.ts), then a margin.
    expect(seconds).toBeGreaterThanOrEqual(DRAIN_DEFAULT_S + 10 + 30);
  });

  it('keeps its hardening, with nothing writable but its state directory (call records; the build happened at install)', () => {
    for (const line of [
      'NoNewPrivileges=true',
      'ProtectSystem=strict',
      'ProtectHome=true',
      'PrivateTmp=true',
      'ProtectKernelTunables=true',
      'ProtectControlGroups=true',
      'RestrictSUIDSGID=true',
      'User=voicebridge',
    ]) {
      expect(settings, line).toContain(line);
    }
    expect(setting('ReadWritePaths')).toEqual([]);
    expect(setting('StateDirectory')).toEqual(['voice-bridge']);
    expect(setting('Environment')).toContain('CALLS_DB=/var/lib/voice-bridge/calls.db');
  });

  it('its ExecStart, run from a package directory, is the server: ready, and SIGTERM to that PID drains and exits 0', async () => {
    // /usr/bin/env execs node: the PID systemd signals is node's own, with no process between.
    const server = track(await startInPackageDir(execStart, testEnv()));
    expect(readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean)).toEqual([
      'node',
      'dist/server.js',
    ]);
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
    server.child.kill('SIGTERM');
    await server.waitForLine((r) => r.msg === 'drain finished');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  /** systemd-analyze, its messages on stderr whatever the environment says (else the journal). */
  const analyzeRun = (args: string[]) =>
    spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SYSTEMD_LOG_TARGET: 'console' } });
  const analyze = analyzeRun(['--version']);
  const haveAnalyze = analyze.status === 0;
  it.runIf(!haveAnalyze && process.env.CI === 'true')('systemd-analyze must be installed in CI (.ci/run installs systemd)', () => {
    expect.fail('systemd-analyze is not on PATH but CI=true');
  });
  it.runIf(haveAnalyze)('passes `systemd-analyze verify` with no warning', () => {
    const result = analyzeRun(['verify', join(ROOT, UNIT)]);
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
  it.runIf(haveAnalyze)('(and verify does catch a broken unit, so the check above can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vb-unit-'));
    try {
      const broken = join(dir, 'voice-bridge.service');
      writeFileSync(broken, unit.replace(/^KillMode=mixed$/m, 'KillMode=mixd'));
      const result = analyzeRun(['verify', broken]);
      expect(result.stderr).toMatch(/kill mode/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

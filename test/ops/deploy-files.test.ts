/**
 * The Dockerfile, compose.yaml and systemd unit cannot be run here (no Docker engine, no systemd
 * as PID 1), so this checks what can be checked: the files the image copies exist and are not
 * excluded from the build context, the command it names runs the compiled server, its HEALTHCHECK
 * command works against a real server, and every stop timeout outlasts the drain.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { SERVER_JS, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { testEnv, testConfig } from '../helpers/config.js';
import { freePort } from './caddy-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (name: string) => readFileSync(join(ROOT, name), 'utf8');
const dockerfile = read('Dockerfile');
/** Instructions with their continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const DRAIN_DEFAULT_S = testConfig().drainTimeoutSeconds;

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.kill();
  server = undefined;
});

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
    expect(final).toContain('RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force');
    expect(final).toContain('COPY --from=build /app/dist ./dist');
    expect(final).toContain('USER node');
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
    expect(pkg.scripts.start).toBe('node dist/server.js');
    expect(pkg.main).toBe('dist/server.js');
  });

  it('its HEALTHCHECK command passes against a running server and fails when nothing listens', async () => {
    const line = instructions.find((l) => l.startsWith('HEALTHCHECK '))!;
    const cmd = JSON.parse(line.slice(line.indexOf('CMD ') + 4)) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    server = await startServerProcess(testEnv());
    expect(await run(cmd, { PORT: String(server.port) })).toBe(0);
    expect(await run(cmd, { PORT: String(await freePort()) })).toBe(1);
  });
});

describe('stop timeouts outlast the drain', () => {
  const minutes = (text: string, re: RegExp) => {
    const m = re.exec(text);
    expect(m, String(re)).not.toBeNull();
    return Number(m![1]) * 60;
  };

  it('compose.yaml: the app (and Caddy) get longer than DRAIN_TIMEOUT_SECONDS', () => {
    const compose = read('compose.yaml');
    const graces = [...compose.matchAll(/stop_grace_period: (\d+)m/g)].map((m) => Number(m[1]) * 60);
    expect(graces.length).toBe(2);
    for (const g of graces) expect(g).toBeGreaterThan(DRAIN_DEFAULT_S);
    // The app trusts exactly Caddy's fixed address.
    const trusted = /TRUST_PROXY: (\S+)/.exec(compose)?.[1];
    const caddyBlock = compose.slice(compose.indexOf('  caddy:'), compose.indexOf('  redis:'));
    expect(caddyBlock).toContain(`ipv4_address: ${trusted}`);
    expect(compose).toMatch(/profiles: \["redis"\]/);
  });

  it('the systemd unit: npm start, restart on failure, TimeoutStopSec longer than the drain', () => {
    const unit = read('deploy/voice-bridge.service');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/npm start$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^KillMode=control-group$/m);
    expect(minutes(unit, /^TimeoutStopSec=(\d+)min$/m)).toBeGreaterThan(DRAIN_DEFAULT_S);
  });
});

/**
 * Runs the real `caddy` binary on the project's Caddyfile for tests.
 *
 * The shipped Caddyfile is used as is, its `{$VAR}` placeholders filled from the environment the
 * way an operator's would be: DOMAIN=http://127.0.0.1:PORT (an http:// site address, so no
 * certificate is needed), UPSTREAM=the test app, CADDY_ADMIN=off. One exception: Caddy before 2.7
 * (Debian bookworm ships 2.6.2) does not know `stream_close_delay`; for it, a copy without that
 * one line is run, and `strippedForOldCaddy` says so.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CADDYFILE = fileURLToPath(new URL('../../Caddyfile', import.meta.url));

/** `caddy version` → [major, minor, patch], or null when caddy is not installed. */
export function caddyVersion(): [number, number, number] | null {
  const result = spawnSync('caddy', ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) return null;
  // "v2.8.4 h1:…" from upstream builds, "2.6.2" from Debian's.
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(result.stdout);
  if (!m) throw new Error(`unrecognised caddy version output: ${result.stdout}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function supportsStreamCloseDelay(v: [number, number, number]): boolean {
  return v[0] > 2 || (v[0] === 2 && v[1] >= 7);
}

/** A port free right now on 127.0.0.1 (Caddy binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface CaddyProcess {
  readonly port: number;
  readonly strippedForOldCaddy: boolean;
  readonly stderr: () => string;
  stop(): Promise<void>;
}

export async function startCaddy(opts: { upstream: string; version: [number, number, number] }): Promise<CaddyProcess> {
  const port = await freePort();
  const home = mkdtempSync(join(tmpdir(), 'vb-caddy-'));
  let config = CADDYFILE;
  const strippedForOldCaddy = !supportsStreamCloseDelay(opts.version);
  if (strippedForOldCaddy) {
    config = join(home, 'Caddyfile');
    const text = readFileSync(CADDYFILE, 'utf8')
      .split('\n')
      .filter((line) => !/^\s*stream_close_delay\s/.test(line))
      .join('\n');
    writeFileSync(config, text);
  }
  const child: ChildProcess = spawn('caddy', ['run', '--config', config, '--adapter', 'caddyfile'], {
    env: {
      PATH: process.env.PATH,
      HOME: home,
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
      DOMAIN: `http://127.0.0.1:${port}`,
      UPSTREAM: opts.upstream,
      CADDY_ADMIN: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`caddy did not start within 10 s:\n${stderr}`)), 10_000);
    const onData = (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (stderr.includes('serving initial configuration')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', onData);
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`caddy exited (${code}) before serving:\n${stderr}`));
    });
  });
  return {
    port,
    strippedForOldCaddy,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the real `caddy` binary on the project's Caddyfiles, unmodified, for tests.
 *
 * Their `{$VAR}` placeholders are filled from the environment the way an operator's would be:
 * DOMAIN=http://127.0.0.1:PORT (an http:// site address, so no certificate is needed), the
 * upstream(s) = the test app(s), CADDY_ADMIN=off, and CADDY_ON_RELOAD=keep_calls_on_reload where
 * the Caddy is 2.7 or newer (as compose.yaml sets it for the caddy:2 image); Debian's 2.6.2 runs
 * the files with their default, as `apt install caddy` users do.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The top-level Caddyfile: one app behind Caddy. */
export const CADDYFILE = fileURLToPath(new URL('../../Caddyfile', import.meta.url));
/** Two instances behind one Caddy, for rolling restarts. */
export const CADDYFILE_TWO_INSTANCES = fileURLToPath(new URL('../../deploy/Caddyfile.two-instances', import.meta.url));

export type CaddyVersion = [number, number, number];

/** `caddy version` → [major, minor, patch], or null when caddy is not installed. */
export function caddyVersion(): CaddyVersion | null {
  const result = spawnSync('caddy', ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) return null;
  // "v2.8.4 h1:…" from upstream builds, "2.6.2" from Debian's.
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(result.stdout);
  if (!m) throw new Error(`unrecognised caddy version output: ${result.stdout}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** `stream_close_delay` (keep calls open across a config reload) came with Caddy 2.7. */
export function supportsStreamCloseDelay(v: CaddyVersion): boolean {
  return v[0] > 2 || (v[0] === 2 && v[1] >= 7);
}

/** The environment the shipped files are meant to be loaded with on this Caddy version. */
export function reloadSetting(v: CaddyVersion): Record<string, string> {
  return supportsStreamCloseDelay(v) ? { CADDY_ON_RELOAD: 'keep_calls_on_reload' } : {};
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
  readonly stderr: () => string;
  stop(): Promise<void>;
}

/**
 * `caddy run` on `config` as shipped. `env` fills the file's own variables (UPSTREAM, or
 * UPSTREAM_A/UPSTREAM_B); DOMAIN, CADDY_ADMIN and the reload setting are filled here.
 */
export async function startCaddy(opts: {
  config?: string;
  env: Record<string, string>;
  version: CaddyVersion;
}): Promise<CaddyProcess> {
  const port = await freePort();
  const home = mkdtempSync(join(tmpdir(), 'vb-caddy-'));
  const child: ChildProcess = spawn('caddy', ['run', '--config', opts.config ?? CADDYFILE, '--adapter', 'caddyfile'], {
    env: {
      PATH: process.env.PATH,
      HOME: home,
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
      DOMAIN: `http://127.0.0.1:${port}`,
      CADDY_ADMIN: 'off',
      ...reloadSetting(opts.version),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`caddy did not start within 20 s:\n${stderr}`)), 20_000);
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
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, stderr: () => stderr, stop };
}

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_JS = join(ROOT, 'dist', 'server.js');

export interface ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly baseUrl: string;
  readonly port: number;
  /** Every stdout line so far (pino JSON). */
  readonly lines: string[];
  readonly stderr: () => string;
  /** The process's exit, once its output has been read to the end. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line matching `test`, waiting up to `timeoutMs`. */
  waitForLine(test: (record: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGKILL to the process (to its whole process group for `npm start`), then waits for its exit. */
  kill(): Promise<void>;
  /** kill(), under the name closeAfterEach() calls. */
  close(): Promise<void>;
}

/**
 * Runs the compiled server (`npm test` builds dist/ first) as a real process on an ephemeral port.
 * The environment is exactly `env` plus PATH, so nothing leaks in from the developer's shell or .env.
 */
export async function startServerProcess(env: Record<string, string | undefined>, cwd?: string): Promise<ServerProcess> {
  if (!existsSync(SERVER_JS)) throw new Error(`${SERVER_JS} is missing: run "npm run build" (npm test does it)`);
  const child = spawn(process.execPath, [SERVER_JS], {
    cwd: cwd ?? fileURLToPath(new URL('../fixtures/', import.meta.url)),
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return watchServer(child, { group: false, cleanup: () => {} });
}

/**
 * Runs the project's real `npm start` script, as a user or a supervisor does, on an ephemeral port.
 * npm leads a process group of its own, as under a shell or a supervisor: a test can signal the
 * group as Ctrl-C does, and kill() ends everything npm started even if npm itself is gone.
 */
export function startNpmStart(env: Record<string, string | undefined>): Promise<ServerProcess> {
  return startInPackageDir(['npm', 'start'], env, { group: true });
}

/**
 * Runs `argv` (a deployment's command line, e.g. the systemd unit's ExecStart) the way a
 * deployment does: from a package directory, on an ephemeral port.
 *
 * The directory is a scratch one holding a byte-for-byte copy of package.json and a link to the
 * built dist/, so a developer's own .env at the repository root (read by dotenv from the working
 * directory) cannot leak in; npm's cache and logs go there too, and it is removed by kill().
 */
export async function startInPackageDir(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  opts: { group?: boolean } = {},
): Promise<ServerProcess> {
  if (!existsSync(SERVER_JS)) throw new Error(`${SERVER_JS} is missing: run "npm run build" (npm test does it)`);
  const dir = mkdtempSync(join(tmpdir(), 'vb-package-'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'dist'), join(dir, 'dist'), 'dir');
  const group = opts.group ?? false;
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      npm_config_cache: join(dir, '.npm'),
      npm_config_update_notifier: 'false',
      HOST: '127.0.0.1',
      PORT: '0',
      ...env,
    } as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: group,
  });
  return watchServer(child, { group, cleanup: () => rmSync(dir, { recursive: true, force: true }) });
}

async function watchServer(
  child: ChildProcessWithoutNullStreams,
  opts: { group: boolean; cleanup: () => void },
): Promise<ServerProcess> {
  const lines: string[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) if (p) lines.push(p);
    for (const w of waiters) w();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // Done = exited AND its output read to the end ('close', not 'exit', which can come first), so
  // a test awaiting `exited` sees every line the process wrote.
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      done = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    });
    // A command that cannot be spawned (npm not on PATH) emits 'error' and never 'exit'.
    child.once('error', (err) => {
      stderr += `spawn failed: ${err.message}\n`;
      if (child.pid === undefined) {
        done = true;
        resolve({ code: null, signal: null });
      }
      for (const w of waiters) w();
    });
  });

  function parse(line: string): Record<string, unknown> | null {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return null;
    }
  }

  function waitForLine(test: (r: Record<string, unknown>) => boolean, timeoutMs = 10_000) {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < lines.length; seen++) {
          const record = parse(lines[seen]!);
          if (record && test(record)) {
            cleanup();
            resolve(record);
            return;
          }
        }
        if (done) {
          cleanup();
          reject(new Error(`server exited (${child.exitCode ?? child.signalCode}) before the line appeared:\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for a log line; stderr:\n${stderr}\nstdout:\n${lines.join('\n')}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  function killNow(): void {
    if (child.pid === undefined) return; // never started
    if (!opts.group) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return;
    }
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // the group is gone already
    }
  }

  let listening: Record<string, unknown>;
  try {
    listening = await waitForLine((r) => typeof r.msg === 'string' && r.msg.startsWith('Server listening at http://127.0.0.1:'));
  } catch (err) {
    killNow();
    await exited;
    opts.cleanup();
    throw err;
  }
  const baseUrl = String(listening.msg).replace('Server listening at ', '');
  async function kill(): Promise<void> {
    killNow();
    await exited;
    opts.cleanup();
  }
  return {
    child,
    baseUrl,
    port: Number(new URL(baseUrl).port),
    lines,
    stderr: () => stderr,
    exited,
    waitForLine,
    kill,
    close: kill,
  };
}

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SERVER_JS = fileURLToPath(new URL('../../dist/server.js', import.meta.url));

export interface ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly baseUrl: string;
  readonly port: number;
  /** Every stdout line so far (pino JSON). */
  readonly lines: string[];
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line matching `test`, waiting up to `timeoutMs`. */
  waitForLine(test: (record: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
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
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
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
        if (child.exitCode !== null || child.signalCode !== null) {
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

  const listening = await waitForLine((r) => typeof r.msg === 'string' && r.msg.startsWith('Server listening at http://127.0.0.1:'));
  const baseUrl = String(listening.msg).replace('Server listening at ', '');
  return {
    child,
    baseUrl,
    port: Number(new URL(baseUrl).port),
    lines,
    stderr: () => stderr,
    exited,
    waitForLine,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

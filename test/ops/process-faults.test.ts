import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exitOnProcessFaults, FAULT_EXIT_CODE } from '../../src/ops/process-faults.js';

describe('exitOnProcessFaults', () => {
  it('logs an uncaught exception or unhandled rejection at fatal with the error, then exits 1 once', () => {
    for (const [event, kind, payload] of [
      ['uncaughtException', 'uncaught_exception', new Error('thrown')],
      ['unhandledRejection', 'unhandled_rejection', new Error('rejected')],
    ] as const) {
      const target = new EventEmitter();
      const lines: { obj: Record<string, unknown>; msg: string }[] = [];
      const exits: number[] = [];
      exitOnProcessFaults({ fatal: (obj: Record<string, unknown>, msg: string) => void lines.push({ obj, msg }) } as never, {
        exit: (code) => void exits.push(code),
        target: target as unknown as NodeJS.Process,
      });
      target.emit(event, payload);
      target.emit(event, new Error('a second fault while exiting'));
      expect(exits).toEqual([FAULT_EXIT_CODE]);
      expect(lines).toEqual([{ obj: { err: payload, kind }, msg: 'unhandled fault: exiting so the supervisor restarts the process' }]);
    }
  });

  const DIST = fileURLToPath(new URL('../../dist/ops/process-faults.js', import.meta.url));

  it.each([
    ['an uncaught exception', 'setTimeout(() => { throw new Error("boom from a timer"); });', 'boom from a timer', 'uncaught_exception'],
    ['an unhandled rejection', 'Promise.reject(new Error("boom from a promise"));', 'boom from a promise', 'unhandled_rejection'],
  ])('makes a real process with %s write one fatal JSON line with the stack and exit 1', async (_name, fault, message, kind) => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run "npm run build" (npm test does it)`);
    const script = `import { pino } from 'pino'; import { exitOnProcessFaults } from ${JSON.stringify(DIST)};
      exitOnProcessFaults(pino()); ${fault} setTimeout(() => process.exit(0), 5000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 60, kind, msg: 'unhandled fault: exiting so the supervisor restarts the process' });
    expect((lines[0]?.err as { stack: string }).stack).toContain(message);
  });
});

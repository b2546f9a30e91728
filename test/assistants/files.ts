/** A temporary directory per test for assistants files and instructions files; removed after. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';

export interface TempFiles {
  readonly dir: string;
  /** Writes `content` (a string or bytes as they are, anything else as JSON) at `name` under dir; returns its path. */
  write(name: string, content: unknown): string;
}

/** Call at the top of a describe/file: each test gets a fresh directory. */
export function useTempFiles(): () => TempFiles {
  let current: TempFiles | undefined;
  afterEach(() => {
    if (current) rmSync(current.dir, { recursive: true, force: true });
    current = undefined;
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'vb-assistants-'));
    current = {
      dir,
      write(name, content) {
        const path = join(dir, name);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 2));
        return path;
      },
    };
    return current;
  };
}

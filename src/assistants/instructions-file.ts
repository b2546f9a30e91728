/**
 * `instructionsFile`: a path relative to the assistants file (or absolute), read whole and
 * synchronously (at start and on SIGHUP), bounded by MAX_INSTRUCTIONS_FILE_BYTES, UTF-8 only.
 * Returns the text, or the sentence that says why it cannot be used.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAX_INSTRUCTIONS_FILE_BYTES } from './limits.js';

export type TextFileVerdict = { ok: true; text: string } | { ok: false; problem: string };

/** Why a read failed, in words, from Node's error code. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  return code ?? 'unreadable';
}

/**
 * Reads `file` whole when it is a regular file of at most `maxBytes`, as strict UTF-8. One open,
 * then fstat on that descriptor: the size checked is the size of the file read.
 */
export function readBoundedText(file: string, maxBytes: number, limitName: string): TextFileVerdict {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    return { ok: false, problem: describeFsError(err) };
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) return { ok: false, problem: 'is a directory' };
    if (!stat.isFile()) return { ok: false, problem: 'is not a regular file' };
    if (stat.size > maxBytes) return { ok: false, problem: `is ${stat.size} bytes, over ${maxBytes} (${limitName})` };
    // One byte more than allowed: a file that grew since fstat is caught, not cut.
    const buf = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buf, length, buf.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) return { ok: false, problem: `is over ${maxBytes} bytes (${limitName})` };
    }
    try {
      return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, length)) };
    } catch {
      return { ok: false, problem: 'is not UTF-8 text' };
    }
  } catch (err) {
    return { ok: false, problem: describeFsError(err) };
  } finally {
    closeSync(fd);
  }
}

/** Reads `path` (relative to `dir`, the assistants file's directory). */
export function readInstructionsFile(dir: string, path: string): TextFileVerdict {
  const verdict = readBoundedText(resolve(dir, path), MAX_INSTRUCTIONS_FILE_BYTES, 'MAX_INSTRUCTIONS_FILE_BYTES');
  return verdict.ok ? verdict : { ok: false, problem: `cannot read ${path} (${verdict.problem})` };
}

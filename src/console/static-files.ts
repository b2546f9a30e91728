/**
 * The operator console's files (public/console/: HTML, CSS, plain JavaScript modules, an icon),
 * read once at start into memory and served by exact name only: nothing a request says is ever
 * joined to a file path, so no spelling of a URL reaches a file outside the list.
 *
 * The folder is found by walking up from this module (src/console in tests, dist/console in
 * production, dist/dev/src/console for the tools), so every build serves the same files with no
 * copy step.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the console may serve, by extension; anything else in the folder is not served. */
const CONTENT_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
});

/** Most files and bytes served from the folder: far above what the console has (~20 files, ~80 KB). */
export const CONSOLE_FILE_LIMITS = Object.freeze({ maxFiles: 100, maxBytes: 2 * 1024 * 1024 });

/** Levels above this module searched for public/console (dist/dev/src/console is 4 below the root). */
const MAX_LEVELS_UP = 6;

export interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
  /** A strong validator: the first 16 bytes of the SHA-256 of the body, quoted. */
  readonly etag: string;
}

export class ConsoleFilesError extends Error {}

/** public/console, the nearest one above this module. */
export function consoleDirectory(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i <= MAX_LEVELS_UP; i++) {
    const candidate = join(dir, 'public', 'console');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new ConsoleFilesError(`public/console/index.html not found above ${from}`);
}

/**
 * Every servable file under `dir`, keyed by its path relative to it with '/' separators
 * ('index.html', 'js/main.js'). @throws ConsoleFilesError past CONSOLE_FILE_LIMITS
 */
export function loadConsoleFiles(dir: string): ReadonlyMap<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  let bytes = 0;
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) {
        walk(path);
        continue;
      }
      const type = CONTENT_TYPES[extensionOf(entry.name)];
      if (!entry.isFile() || type === undefined) continue;
      bytes += statSync(path).size;
      if (files.size >= CONSOLE_FILE_LIMITS.maxFiles || bytes > CONSOLE_FILE_LIMITS.maxBytes) {
        throw new ConsoleFilesError(`${dir} holds more than ${CONSOLE_FILE_LIMITS.maxFiles} files or ${CONSOLE_FILE_LIMITS.maxBytes} bytes`);
      }
      const body = readFileSync(path);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      files.set(relative(dir, path).split(sep).join('/'), Object.freeze({ body, contentType: type, etag }));
    }
  };
  walk(dir);
  return files;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot).toLowerCase();
}

/**
 * The operator console, `GET /console/`: a page of plain JavaScript modules (public/console/)
 * that reads the call-record API and runs the browser softphone. It exists only while API_TOKEN is
 * set (as the API it reads; 404 otherwise). The files hold nothing secret: the page asks for the
 * API token and sends it only as `Authorization: Bearer` to the API.
 *
 * - `GET /console` → 308 to `/console/` (the page's relative URLs need the slash);
 * - `GET /console/` → index.html; `GET /console/<file>` → one of the files, by exact name;
 *   anything else under it → 404.
 * Every answer carries the console's security headers (security-headers.ts) and
 * `Cache-Control: no-cache` with a strong ETag: a browser revalidates (304) rather than run a
 * stale module after an upgrade.
 *
 * The guard judges the page itself like any route (ban, flood rule); the files it loads have a
 * per-address budget of their own instead of the flood rule (guard/install.ts CONSOLE_ASSET_BUDGET),
 * so loading the page, ~15 requests at once, is one request toward the flood rule, not fifteen.
 */
import { sendError } from '../http-errors.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { consoleHeaders } from './security-headers.js';
import { consoleDirectory, loadConsoleFiles, type StaticFile } from './static-files.js';

/** The page (judged like any route by the guard). */
export const CONSOLE_PAGE_ROUTE = '/console/';
/** The files the page loads (under the guard's console-asset budget). */
export const CONSOLE_ASSET_ROUTE = '/console/*';

export interface ConsoleOptions {
  readonly config: Pick<Config, 'apiToken' | 'publicUrl'>;
  /** Where the files are. @default public/console above this module */
  readonly directory?: string;
}

export function registerConsole(app: FastifyInstance, opts: ConsoleOptions): void {
  if (!opts.config.apiToken) return;
  const files = loadConsoleFiles(opts.directory ?? consoleDirectory());
  const headers = consoleHeaders(opts.config);
  const index = files.get('index.html');
  if (!index) throw new Error('the console has no index.html');

  const send = (request: FastifyRequest, reply: FastifyReply, file: StaticFile | undefined): FastifyReply => {
    void reply.headers(headers);
    if (!file) return sendError(reply, 404, 'no_such_file', 'no such console file');
    void reply.header('cache-control', 'no-cache').header('etag', file.etag);
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.type(file.contentType).send(file.body);
  };

  app.get('/console', (_request, reply) => reply.headers(headers).redirect('/console/', 308));
  app.get(CONSOLE_PAGE_ROUTE, (request, reply) => send(request, reply, index));
  app.get<{ Params: { '*': string } }>(CONSOLE_ASSET_ROUTE, (request, reply) => {
    const name = request.params['*'];
    // index.html has one address, /console/ (its relative URLs resolve against it).
    return send(request, reply, name === 'index.html' ? undefined : files.get(name));
  });
}

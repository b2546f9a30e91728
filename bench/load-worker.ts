/**
 * One load-generator process of a spread load (spread-load.ts): callers and a Realtime stand-in
 * sharing the stand-in port with its siblings (SO_REUSEPORT), driven over IPC. Each request is
 * `{ id, op, … }` and is answered `{ id, ok, value | error }`; `close` hangs up, stops and exits.
 */
import { LocalLoad } from './load-driver.js';

interface Request {
  readonly id: number;
  readonly op: 'init' | 'attach' | 'add' | 'reset' | 'snapshot' | 'hangup' | 'close';
  readonly port?: number;
  readonly gapMs?: number;
  readonly baseUrl?: string;
  readonly authToken?: string;
  readonly n?: number;
  readonly perSecond?: number;
}

let load: LocalLoad | null = null;

function reply(id: number, value: unknown, error?: string, then?: () => void): void {
  process.send?.(error === undefined ? { id, ok: true, value } : { id, ok: false, error }, () => then?.());
}

async function handle(req: Request): Promise<unknown> {
  if (req.op === 'init') {
    load = await LocalLoad.start({ gapMs: req.gapMs ?? 7000, port: req.port, reusePort: true });
    return { port: load.standIn.port };
  }
  if (load === null) throw new Error('not initialised');
  switch (req.op) {
    case 'attach':
      return load.attach(req.baseUrl ?? '', req.authToken ?? '');
    case 'add':
      return load.add(req.n ?? 0, req.perSecond ?? 100);
    case 'reset':
      return load.resetWindow();
    case 'snapshot':
      return load.snapshot();
    case 'hangup':
      return load.hangUpAll();
    case 'close':
      return load.close();
    default:
      throw new Error(`unknown op ${String(req.op)}`);
  }
}

process.on('message', (req: Request) => {
  handle(req).then(
    (value) => reply(req.id, value ?? null, undefined, req.op === 'close' ? () => process.exit(0) : undefined),
    (err: unknown) => reply(req.id, null, err instanceof Error ? err.message : String(err)),
  );
});
// The parent gone (crashed or killed): nothing left to generate load for.
process.on('disconnect', () => process.exit(0));

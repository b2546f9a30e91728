/**
 * `npm run demo`: one simulated phone call through the real bridge, on this machine, with no keys.
 * Prints the call's timeline and figures; exits 0 when the call went through cleanly.
 *
 * `npm run demo -- --console [--port N]`: the bridge and the Realtime stand-in for the operator
 * console and its browser softphone, until Ctrl-C (tools/demo/console-mode.ts).
 */
import { runDemo } from './demo/run-demo.js';
import { startConsoleDemo } from './demo/console-mode.js';

const USAGE = 'usage: npm run demo [-- --console [--port N]]';

function fail(err: unknown): void {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}

function parsePort(args: readonly string[]): number | undefined | null {
  const at = args.indexOf('--port');
  if (at < 0) return undefined;
  const text = args[at + 1] ?? '';
  const port = Number(text);
  return /^\d{1,5}$/.test(text) && port >= 1 && port <= 65535 ? port : null;
}

const args = process.argv.slice(2);
const known = new Set(['--console', '--port']);
const unknown = args.filter((a, i) => !known.has(a) && args[i - 1] !== '--port');
const port = parsePort(args);
if (unknown.length > 0 || port === null || (port !== undefined && !args.includes('--console'))) {
  process.stderr.write(`${USAGE}\n`);
  process.exitCode = 2;
} else if (args.includes('--console')) {
  startConsoleDemo({ port }).then((demo) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      console.log('\nstopping the demo…');
      demo.close().catch(fail);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }, fail);
} else {
  runDemo()
    .then((summary) => {
      const ok = summary.byteExact && summary.clears > 0 && summary.warnings.length === 0 && summary.endReason === 'twilio_stop';
      if (!ok) process.stderr.write('\nthe demo call did not go through cleanly (see above)\n');
      process.exitCode = ok ? 0 : 1;
    })
    .catch(fail);
}

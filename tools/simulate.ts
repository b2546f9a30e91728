/**
 * `npm run simulate -- …`: acts as Twilio against a running voice bridge (see --help).
 * Ctrl-C hangs every call up and still prints the report.
 */
import { simulateCli } from './sim/cli.js';

const controller = new AbortController();
process.once('SIGINT', () => {
  process.stderr.write('\ninterrupted: hanging up…\n');
  controller.abort();
});

simulateCli(process.argv.slice(2), {
  out: (line) => console.log(line),
  err: process.stderr,
  env: process.env,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`simulate failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);

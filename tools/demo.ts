/**
 * `npm run demo`: one simulated phone call through the real bridge, on this machine, with no keys.
 * Prints the call's timeline and figures; exits 0 when the call went through cleanly.
 */
import { runDemo } from './demo/run-demo.js';

runDemo()
  .then((summary) => {
    const ok = summary.byteExact && summary.clears > 0 && summary.warnings.length === 0 && summary.endReason === 'twilio_stop';
    if (!ok) process.stderr.write('\nthe demo call did not go through cleanly (see above)\n');
    process.exitCode = ok ? 0 : 1;
  })
  .catch((err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });

/**
 * Runs one flood in its own process (started niced by the benchmark, so the simulated calls
 * sharing its core keep their real-time pace): options as JSON in argv[2], result as JSON on stdout.
 */
import { runFlood, type FloodOptions } from './flood.js';

const raw = JSON.parse(process.argv[2] ?? '{}') as Omit<FloodOptions, 'target'> & { target: string };
runFlood({ ...raw, target: new URL(raw.target) }).then(
  (result) => process.stdout.write(JSON.stringify(result) + '\n'),
  (err: unknown) => {
    process.stderr.write(`flood failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

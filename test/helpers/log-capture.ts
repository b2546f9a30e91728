import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loggerOptions } from '../../src/log.js';
import type { Config } from '../../src/config.js';

export interface LogCapture {
  readonly logger: Logger;
  /** Every line written so far, raw JSON text. */
  readonly lines: string[];
  /** Parsed lines. */
  records(): Record<string, unknown>[];
  text(): string;
}

/** A real pino logger with the app's options, writing into memory so tests can read every line. */
export function captureLogs(config: Pick<Config, 'logLevel'>): LogCapture {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
      cb();
    },
  });
  // The Writable calls back synchronously, so a line is readable as soon as the log call returns.
  const logger = pino(loggerOptions(config), stream);
  return {
    logger,
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join('\n'),
  };
}

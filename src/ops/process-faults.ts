/**
 * The process's last line: an exception or rejection nobody handled.
 *
 * Each call's handlers run inside its fault boundary (src/stream/fault-boundary.ts), so nothing in
 * normal operation reaches these handlers; when something does, the process state is unknown
 * (a half-run handler, a leaked socket, a timer that will never fire). Carrying on could serve
 * calls from a broken process for hours, so the policy is: one `fatal` line with the stack, then
 * exit 1 so the supervisor (systemd `Restart=`, Docker `restart:`) starts a clean one. pino writes
 * synchronously to stdout by default, so the line is out before the exit.
 */
import type { Logger } from 'pino';

/** Exit status after an unhandled fault: non-zero, so supervisors restart the process. */
export const FAULT_EXIT_CODE = 1;

export interface ProcessFaultOptions {
  /** @default process.exit */
  readonly exit?: (code: number) => void;
  /** The emitter to watch. @default process */
  readonly target?: Pick<NodeJS.Process, 'on'>;
}

/** Installs the `uncaughtException` and `unhandledRejection` policy (server.ts, once). */
export function exitOnProcessFaults(log: Pick<Logger, 'fatal'>, opts: ProcessFaultOptions = {}): void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const target = opts.target ?? process;
  let exiting = false;
  const onFault = (kind: 'uncaught_exception' | 'unhandled_rejection', err: unknown): void => {
    // A second fault while the first is being reported changes nothing: the first one exits.
    if (exiting) return;
    exiting = true;
    try {
      log.fatal({ err, kind }, 'unhandled fault: exiting so the supervisor restarts the process');
    } finally {
      exit(FAULT_EXIT_CODE);
    }
  };
  target.on('uncaughtException', (err) => onFault('uncaught_exception', err));
  target.on('unhandledRejection', (reason) => onFault('unhandled_rejection', reason));
}

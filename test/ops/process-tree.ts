/**
 * What is left of a process tree, read from /proc (Linux): the real-process tests use it to prove
 * that nothing outlives a shutdown (no orphaned node under PID 1) and that nothing still listens.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** State letter from /proc/<pid>/stat: R, S, D, Z (zombie), … */
  readonly state: string;
  /** The command line, arguments joined by spaces. */
  readonly cmdline: string;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, ppid: Number(rest[1]), pgid: Number(rest[2]), state: rest[0]!, cmdline };
  } catch {
    return null; // it exited while we looked
  }
}

/** Every process whose process group is `pgid` (a group leader's pid), zombies included. */
export function processGroup(pgid: number): ProcInfo[] {
  const found: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProc(Number(name));
    if (info && info.pgid === pgid) found.push(info);
  }
  return found;
}

/** True when a TCP connection to 127.0.0.1:`port` is accepted; false when it is refused. */
export function isListening(port: number, timeoutMs = 5_000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connecting to 127.0.0.1:${port} neither succeeded nor was refused within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ECONNREFUSED') resolve(false);
      else reject(err);
    });
  });
}

/** Whether a process with this PID exists (signal 0: nothing is sent). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * A worker's side of WORKERS > 1: the same server as one process (server.ts builds the app,
 * listens, drains on SIGTERM and exits), given what ties it to the primary:
 * - its log lines carry `worker` (1..WORKERS, kept by a replacement);
 * - the guard's state is the primary's (guard/ipc-store.ts), or Redis with REDIS_URL as always;
 * - call slots are counted for the host (worker-registry.ts);
 * - /metrics answers with the host's figures, and the primary logs the minute line for all.
 *
 * If the primary itself is killed (on an orderly stop it outlives every worker, and a fault in it
 * drains them first: primary.ts), node:cluster ends each worker at once, as it always does when
 * its primary goes: no connection could reach them anyway (the listening socket was the
 * primary's), and a supervisor restarts the service.
 */
import cluster from 'node:cluster';
import type { Config } from '../config.js';
import { MAX_WORKERS } from '../config.js';
import type { AppDeps } from '../app.js';
import { createLogger } from '../log.js';
import { createMetrics } from '../metrics.js';
import { IpcStore } from '../guard/ipc-store.js';
import { Channel, portOfProcess } from './channel.js';
import { hostExposition, serveWorkerMetrics } from './cluster-metrics.js';
import { WorkerRegistry } from './worker-registry.js';

/** Set by the primary on each worker it forks: the worker's number, 1..WORKERS. */
export const WORKER_ENV = 'VOICE_BRIDGE_WORKER';

/**
 * This process's number when our primary forked it; undefined otherwise, including a node:cluster
 * worker of another supervisor (pm2's cluster mode), which then runs as one plain process.
 */
export function workerNumber(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (!cluster.isWorker) return undefined;
  const n = Number(env[WORKER_ENV]);
  return Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS ? n : undefined;
}

export interface WorkerSide {
  readonly number: number;
  /** For buildApp. */
  readonly deps: AppDeps;
}

export function joinCluster(config: Config, number: number): WorkerSide {
  const channel = new Channel(portOfProcess());
  const logger = createLogger(config).child({ worker: number });
  const metrics = createMetrics();
  serveWorkerMetrics(channel, metrics.registry);
  const registry = new WorkerRegistry(config, { channel, log: logger, metrics });
  return {
    number,
    deps: {
      logger,
      metrics,
      registry,
      // With REDIS_URL every worker talks to Redis itself, as separate instances do.
      guardStore: config.redisUrl ? undefined : new IpcStore(channel),
      worker: { hostAdmissions: registry, exposition: hostExposition(channel) },
    },
  };
}

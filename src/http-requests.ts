/**
 * `http_requests_total{route,method,status}`: counted in one place. The app's onResponse hook
 * counts what Fastify answers; the guard's fast lane (src/guard/fast-refusal.ts) answers some
 * stream upgrades before Fastify and counts them through the same function, under the route
 * Fastify would have matched.
 */
import type { Metrics } from './metrics.js';

export type CountHttpRequest = (route: string, method: string, status: number) => void;

const counters = new WeakMap<Pick<Metrics, 'httpRequests'>, CountHttpRequest>();

/** The counting function for `metrics` (one per registry, shared by every caller). */
export function httpRequestCounter(metrics: Pick<Metrics, 'httpRequests'>): CountHttpRequest {
  let count = counters.get(metrics);
  if (count !== undefined) return count;
  // Pre-bound children: during a flood a count costs one Map lookup and an addition. Bounded as
  // the counter's own label sets are: routes are the app's, methods the ones Node parses.
  const children = new Map<string, { inc(): void }>();
  count = (route, method, status) => {
    const key = `${route} ${method} ${status}`;
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = metrics.httpRequests.labels(route, method, String(status))));
    child.inc();
  };
  counters.set(metrics, count);
  return count;
}

/**
 * The config schema's field kinds: how one environment variable becomes one typed value, or a
 * sentence saying what is wrong with it and how to fix it. config.ts lists the fields.
 */
import { availableParallelism } from 'node:os';
import { parsePricesVariable, type Prices } from './usage/prices.js';
import { isIP } from 'node:net';

export type Env = Record<string, string | undefined>;

/** One field of the schema: which variable it reads and how it turns text into a value. */
export interface Field<T> {
  readonly env: string;
  /** Returns the value, or a sentence describing what is wrong and how to fix it. */
  readonly parse: (raw: string | undefined, env: Env) => { value: T } | { problem: string };
}

export const present = (raw: string | undefined): raw is string => raw !== undefined && raw.trim() !== '';

export function str(env: string, opts: { default?: string; minLength?: number } = {}): Field<string> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) {
        if (opts.default !== undefined) return { value: opts.default };
        return { problem: `${env} is required` };
      }
      const value = raw.trim();
      if (opts.minLength !== undefined && value.length < opts.minLength) {
        return { problem: `${env} must be at least ${opts.minLength} characters (got ${value.length})` };
      }
      return { value };
    },
  };
}

export function optionalStr(env: string): Field<string | undefined> {
  return { env, parse: (raw) => ({ value: present(raw) ? raw.trim() : undefined }) };
}

/** `INSTANCE_ID`: unset, or a short name that goes into a URL path as it is. */
export function instanceId(env: string): Field<string | undefined> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: undefined };
      const text = raw.trim();
      if (!/^[a-z0-9-]{1,32}$/.test(text)) {
        return { problem: `${env} must be 1 to 32 of a-z, 0-9 and "-" (it goes into the stream URL's path), got "${text}"` };
      }
      return { value: text };
    },
  };
}

export function int(env: string, def: number, min: number, max: number): Field<number> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: def };
      const text = raw.trim();
      const value = Number(text);
      if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
        return { problem: `${env} must be an integer from ${min} to ${max} (got "${text}")` };
      }
      return { value };
    },
  };
}

export function bool(env: string, def: boolean): Field<boolean> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: def };
      const text = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(text)) return { value: true };
      if (['false', '0', 'no', 'off'].includes(text)) return { value: false };
      return { problem: `${env} must be true or false (got "${raw.trim()}")` };
    },
  };
}

export function oneOf<const T extends string>(env: string, def: T, values: readonly T[]): Field<T> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: def };
      const text = raw.trim() as T;
      if (!values.includes(text)) {
        return { problem: `${env} must be one of ${values.join(', ')} (got "${raw.trim()}")` };
      }
      return { value: text };
    },
  };
}

export function url(
  env: string,
  protocols: readonly string[],
  opts: { default?: string; noPath?: boolean } = {},
): Field<string> {
  return {
    env,
    parse(raw) {
      const text = present(raw) ? raw.trim() : opts.default;
      if (text === undefined) return { problem: `${env} is required (for example https://voice.example.com)` };
      let parsed: URL;
      try {
        parsed = new URL(text);
      } catch {
        return { problem: `${env} must be an absolute URL such as ${protocols[0]}//host (got "${text}")` };
      }
      if (!protocols.includes(parsed.protocol)) {
        return { problem: `${env} must use ${protocols.join(' or ')} (got "${parsed.protocol}")` };
      }
      if (parsed.search || parsed.hash) {
        return { problem: `${env} must not have a query string or fragment` };
      }
      if (opts.noPath && parsed.pathname !== '/') {
        return { problem: `${env} must be the site's origin with no path (got "${parsed.pathname}")` };
      }
      // No trailing slash, so `base + '/twilio/voice'` is the exact URL Twilio signs.
      return { value: parsed.toString().replace(/\/$/, '') };
    },
  };
}

/**
 * `HOST`: as given; unset, every interface (0.0.0.0) when webhook signatures are checked, and
 * loopback only (127.0.0.1) when they are not: an unsigned server reachable from the network lets
 * anyone mint stream tokens and open paid Realtime sessions.
 */
export function host(env: string): Field<string> {
  return {
    env,
    parse: (raw, all) => ({ value: present(raw) ? raw.trim() : present(all.TWILIO_AUTH_TOKEN) ? '0.0.0.0' : '127.0.0.1' }),
  };
}

/** Most worker processes `WORKERS` may ask for (`auto` is capped here too). */
export const MAX_WORKERS = 64;

/**
 * `WORKERS`: how many server processes share the port (src/cluster/). Unset: 1, one process as
 * always; `auto`: the cores this process may use (os.availableParallelism(), at most MAX_WORKERS).
 */
export function workers(env: string): Field<number> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: 1 };
      const text = raw.trim();
      if (text.toLowerCase() === 'auto') return { value: Math.min(MAX_WORKERS, Math.max(1, availableParallelism())) };
      if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_WORKERS) {
        return { problem: `${env} must be auto or an integer from 1 to ${MAX_WORKERS} (got "${text}")` };
      }
      return { value: Number(text) };
    },
  };
}

/** `REDIS_KEY_PREFIX`: what every guard key in Redis starts with. */
export function keyPrefix(env: string, def: string): Field<string> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: def };
      const text = raw.trim();
      if (!/^[A-Za-z0-9:._-]{1,64}$/.test(text)) {
        return { problem: `${env} must be 1 to 64 of A-Z, a-z, 0-9 and ":._-" (got "${text}")` };
      }
      return { value: text };
    },
  };
}

/** `MODEL_PRICES`: unset, or one line of JSON prices (src/usage/prices.ts) for OPENAI_MODEL. */
export function prices(env: string): Field<Prices | undefined> {
  return { env, parse: (raw) => parsePricesVariable(raw, env) };
}

/** Whether the variable is set (non-blank). */
export function given(env: string): Field<boolean> {
  return { env, parse: (raw) => ({ value: present(raw) }) };
}

/** `REDIS_URL`: unset (guard state in memory), or a redis:// or rediss:// URL with a host. */
export function redisUrl(env: string): Field<string | undefined> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: undefined };
      const text = raw.trim();
      let parsed: URL;
      try {
        parsed = new URL(text);
      } catch {
        // Not echoed: a URL that failed to parse may still carry a password.
        return { problem: `${env} must be a URL such as redis://127.0.0.1:6379 or rediss://user:password@host:6380` };
      }
      if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
        return { problem: `${env} must use redis: or rediss: (got "${parsed.protocol}")` };
      }
      if (parsed.hostname === '') return { problem: `${env} must name a host (redis://host:6379)` };
      return { value: text };
    },
  };
}

const PROXY_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal'];

/** `TRUST_PROXY`: off, or the proxies to trust by name. Never `true` and never a hop count. */
export function trustProxy(env: string): Field<readonly string[] | false> {
  return {
    env,
    parse(raw) {
      if (!present(raw)) return { value: false };
      const text = raw.trim();
      if (['false', 'off', 'no', '0'].includes(text.toLowerCase())) return { value: false };
      const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = entries.filter((e) => !isProxyEntry(e));
      if (bad.length > 0 || entries.length === 0) {
        return {
          problem:
            `${env} must list the proxies to trust as IPs, CIDRs or loopback/linklocal/uniquelocal, ` +
            `comma-separated (bad: ${bad.map((b) => `"${b}"`).join(', ') || '"' + text + '"'}); ` +
            'true and hop counts are refused because they trust a spoofable X-Forwarded-For',
        };
      }
      return { value: entries };
    },
  };
}

function isProxyEntry(entry: string): boolean {
  if (PROXY_KEYWORDS.includes(entry)) return true;
  const [addr, bits, extra] = entry.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

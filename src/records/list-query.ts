/**
 * `GET /calls?limit=&before=&direction=&number=`: the query string, checked into a ListQuery or
 * refused with a sentence saying what is wrong. Unknown and repeated parameters are refused too,
 * so a typo (`limt=`) is not silently ignored.
 */
import { CALL_DIRECTIONS, isCallDirection } from './record.js';
import { parseCursor } from './cursor.js';
import type { ListQuery } from './store.js';

/** Calls per page when `limit` is not given. @default 50 */
export const DEFAULT_LIST_LIMIT = 50;
/** Most calls one page may ask for. @default 200 */
export const MAX_LIST_LIMIT = 200;
/**
 * `number`: digits the from/to number contains, optionally after a '+' (which an unencoded query
 * string turns into a space: both are accepted, and the search is on the digits).
 */
const NUMBER = /^[+ ]?([0-9]{1,20})$/;

const PARAMETERS = new Set(['limit', 'before', 'direction', 'number']);

export type ListQueryVerdict = { readonly ok: true; readonly query: ListQuery } | { readonly ok: false; readonly message: string };

export function parseListQuery(raw: unknown): ListQueryVerdict {
  const q = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(q)) {
    if (!PARAMETERS.has(key)) return refuse(`unknown parameter "${key.slice(0, 40)}" (use limit, before, direction, number)`);
    if (typeof value !== 'string') return refuse(`${key} may be given once`);
  }
  const { limit: limitText, before: beforeText, direction, number } = q as Partial<Record<string, string>>;

  let limit = DEFAULT_LIST_LIMIT;
  if (limitText !== undefined) {
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIST_LIMIT) {
      return refuse(`limit must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
    }
    limit = Number(limitText);
  }
  const before = beforeText === undefined ? undefined : parseCursor(beforeText);
  if (before === null) return refuse('before must be the "next" value of a previous page');
  if (direction !== undefined && !isCallDirection(direction)) return refuse(`direction must be one of ${CALL_DIRECTIONS.join(', ')}`);
  const digits = number === undefined ? undefined : NUMBER.exec(number)?.[1];
  if (number !== undefined && digits === undefined) return refuse('number must be 1 to 20 digits, optionally after a +');

  return {
    ok: true,
    query: {
      limit,
      ...(before ? { before } : {}),
      ...(direction !== undefined ? { direction } : {}),
      ...(digits !== undefined ? { number: digits } : {}),
    },
  };
}

function refuse(message: string): ListQueryVerdict {
  return { ok: false, message };
}

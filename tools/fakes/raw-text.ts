import type { RawData } from 'ws';

/** A WebSocket message (any of ws's three shapes) as UTF-8 text. */
export function rawToText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

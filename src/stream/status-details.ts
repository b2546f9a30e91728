/**
 * A failed response's status details, cut down for a log line (src/stream/session.ts logs it).
 */
/** Longest text of a failed response's details that is logged, in characters. */
const STATUS_DETAILS_LOG_CHARS = 256;

/**
 * A failed response's `status_details` as a log field: the few strings that say why (type,
 * reason, error type, code, message), each cut to STATUS_DETAILS_LOG_CHARS; never the whole
 * object, which the peer may make as large as a message (megabytes).
 */
export function describeStatusDetails(details: unknown): Record<string, string> | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const d = details as { type?: unknown; reason?: unknown; error?: unknown };
  const e = (typeof d.error === 'object' && d.error !== null ? d.error : {}) as { type?: unknown; code?: unknown; message?: unknown };
  const out: Record<string, string> = {};
  const put = (key: string, value: unknown) => {
    if (typeof value === 'string') out[key] = value.slice(0, STATUS_DETAILS_LOG_CHARS);
  };
  put('type', d.type);
  put('reason', d.reason);
  put('errorType', e.type);
  put('errorCode', e.code);
  put('errorMessage', e.message);
  return out;
}

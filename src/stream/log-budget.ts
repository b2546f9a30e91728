/**
 * Log budget: how many lines of one kind a call may write.
 *
 * Some lines are written for what a peer sends (a tool call, an error event, a failed response):
 * a peer that sends thousands of them must not write thousands of lines. Each kind gets
 * `perKind` lines per call; the rest are counted, and the call's `call ended` line says how many
 * of each were held back. Bounded: one counter per kind, and the kinds are this code's own names.
 */

/** Lines of one kind a call writes before it only counts them. @default 5 */
export const LOG_LINES_PER_KIND = 5;

export class LogBudget {
  private readonly written = new Map<string, number>();
  private readonly held = new Map<string, number>();

  constructor(private readonly perKind: number = LOG_LINES_PER_KIND) {}

  /**
   * True when a line of `kind` may be written now (and counts it); false when it is held back.
   * `limit` overrides the per-kind budget for kinds logged once per call.
   */
  take(kind: string, limit: number = this.perKind): boolean {
    const n = this.written.get(kind) ?? 0;
    if (n < limit) {
      this.written.set(kind, n + 1);
      return true;
    }
    this.held.set(kind, (this.held.get(kind) ?? 0) + 1);
    return false;
  }

  /** Lines held back, by kind; undefined when none were. */
  heldBack(): Record<string, number> | undefined {
    return this.held.size === 0 ? undefined : Object.fromEntries(this.held);
  }
}

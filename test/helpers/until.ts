/**
 * Polls `check` every 10 ms until it holds, or fails after `timeoutMs` naming `what`.
 * For conditions with no event to await (byte counts, registry sizes, scraped metrics).
 */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

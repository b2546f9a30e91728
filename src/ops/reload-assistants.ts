/**
 * SIGHUP: the assistants file read again (server.ts calls this; tests call it directly). A good
 * file replaces the profiles for new calls, with one info line naming them and counting the mapped
 * numbers; a bad one is refused with one error line listing every problem, and the profiles in
 * force stay. Live calls keep theirs either way: each holds its own frozen profile object. Each
 * outcome is counted in voice_bridge_assistants_reloads_total{outcome} (reloaded, refused,
 * no_file), so an alert can catch a refused reload that the log line alone might hide.
 */
import type { Logger } from 'pino';
import type { AssistantBook, ReloadResult } from '../assistants/book.js';
import type { Metrics } from '../metrics.js';

export const RELOADED_MSG = 'assistants reloaded';
export const RELOAD_REFUSED_MSG = 'assistants file refused on reload; the profiles in force stay';

export function reloadAssistants(book: AssistantBook, log: Pick<Logger, 'info' | 'error'>, metrics?: Pick<Metrics, 'assistantReloads'>): ReloadResult {
  const file = book.current().source;
  if (file === undefined) {
    metrics?.assistantReloads.labels('no_file').inc();
    log.info('SIGHUP: ASSISTANTS_FILE is not set; the profile from the environment stays (environment variables are read at start only)');
    return { ok: true, assistants: book.current() };
  }
  const result = book.reload();
  metrics?.assistantReloads.labels(result.ok ? 'reloaded' : 'refused').inc();
  if (result.ok) {
    const { assistants } = result;
    log.info(
      { file, assistants: Object.keys(assistants.byName), default: assistants.default.name, numbers: Object.keys(assistants.numbers).length },
      RELOADED_MSG,
    );
  } else {
    log.error({ file, problems: result.problems }, RELOAD_REFUSED_MSG);
  }
  return result;
}

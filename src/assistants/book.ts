/**
 * The profiles in force: one `Assistants` at a time, replaced whole on reload. A reload that
 * finds a bad file keeps the profiles in force and hands back the problems (for one log line);
 * calls already holding a profile object are untouched either way (profiles are frozen, never
 * edited in place).
 */
import { assistantForNumber, assistantNamed, type Assistant, type Assistants } from './assistant.js';
import { profilesFromConfig, type ImplicitAssistantSettings } from './from-config.js';
import { AssistantsError, loadAssistants, type LoadOptions } from './load.js';
import type { AssistantsVerdict } from './validate.js';

export type ReloadResult =
  | { readonly ok: true; readonly assistants: Assistants }
  | { readonly ok: false; readonly problems: readonly string[] };

export class AssistantBook {
  #current: Assistants;
  readonly #load: () => AssistantsVerdict;

  /** @param load reads the profiles again (on reload); with none, reload keeps what it has. */
  constructor(initial: Assistants, load?: () => AssistantsVerdict) {
    this.#current = initial;
    this.#load = load ?? (() => ({ ok: true, assistants: this.#current }));
  }

  /**
   * ASSISTANTS_FILE set → its profiles; unset → the implicit one from the environment.
   * @throws AssistantsError naming every problem (start-up exits 1 on it)
   */
  static open(file: string | undefined, config: ImplicitAssistantSettings, opts: Partial<LoadOptions> = {}): AssistantBook {
    if (file === undefined) return new AssistantBook(profilesFromConfig(config));
    const load = () =>
      loadAssistants(file, {
        ...opts,
        defaults: opts.defaults ?? { model: config.openaiModel, voice: config.openaiVoice, prices: config.modelPrices },
      });
    const first = load();
    if (!first.ok) throw new AssistantsError(first.problems);
    return new AssistantBook(first.assistants, load);
  }

  current(): Assistants {
    return this.#current;
  }

  /** Reads the profiles again; on problems the old ones stay in force. */
  reload(): ReloadResult {
    const next = this.#load();
    if (next.ok) this.#current = next.assistants;
    return next;
  }

  /** The profile for a call to `to`: the mapped one, else the default. */
  forNumber(to: string | undefined): Assistant {
    return assistantForNumber(this.#current, to);
  }

  byName(name: string): Assistant | undefined {
    return assistantNamed(this.#current, name);
  }
}

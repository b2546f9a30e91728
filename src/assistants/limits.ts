/**
 * The named limits of an assistants file (ASSISTANTS_FILE) and of a per-call override. Each one
 * bounds what one operator mistake, or one API client, can make the bridge hold or send.
 */

/**
 * Profiles per file. Their names are metric labels (voice_bridge_model_tokens_total{assistant}),
 * so the label set stays small: 50 names × a few series each.
 */
export const MAX_ASSISTANTS = 50;
/** Longest profile name, in characters: a metric label, a log field, a `POST /calls` value. */
export const MAX_ASSISTANT_NAME_CHARS = 32;
/** Numbers mapped to profiles per file. */
export const MAX_NUMBERS = 1_000;
/** Largest assistants file, in bytes (read whole, synchronously, at start and on SIGHUP). */
export const MAX_ASSISTANTS_FILE_BYTES = 1024 * 1024;
/**
 * Longest instructions, in characters (UTF-16 units): 32 Ki is ~8 k tokens, which the model
 * reads on every turn; longer prompts are more likely a wrong file than a prompt.
 */
export const MAX_INSTRUCTIONS_CHARS = 32 * 1024;
/** Largest `instructionsFile`, in bytes: 4 bytes of UTF-8 per character covers MAX_INSTRUCTIONS_CHARS. */
export const MAX_INSTRUCTIONS_FILE_BYTES = 4 * MAX_INSTRUCTIONS_CHARS;
/** Longest `instructionsFile` path, in characters. */
export const MAX_PATH_CHARS = 1_024;
/** A greeting is one or two spoken sentences; 500 characters is ~30 s of speech. */
export const MAX_GREETING_CHARS = 500;
/** Longest model name, in characters (it goes into the Realtime URL's `model` query parameter). */
export const MAX_MODEL_CHARS = 64;
/**
 * Longest `"instructions"` override in `POST /calls`, in characters. Its JSON can take up to 6
 * bytes a character (`\uXXXX`), so the route's body limit must be at least ~48 KiB to carry it.
 */
export const MAX_OVERRIDE_INSTRUCTIONS_CHARS = 8_000;

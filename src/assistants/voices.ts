/**
 * The voices the Realtime API (GA) offers. A profile naming another voice is refused at start:
 * the API would refuse it on every call's session.update instead, after the caller picked up.
 * OPENAI_VOICE itself is not checked against this list (as before profiles existed).
 */
export const REALTIME_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'] as const;

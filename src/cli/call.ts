/**
 * `npm run call -- +15551234567 [--greeting "Hi, it's the clinic."] [--assistant NAME] [--instructions TEXT] [--server URL]`
 *
 * Places an outbound call from a shell through the running server's `POST /calls` (so the same
 * validation, capacity check and per-call greeting apply). Reads API_TOKEN and PORT from the
 * environment or .env; the server is http://127.0.0.1:$PORT unless --server or VOICE_BRIDGE_URL
 * says otherwise. Prints the CallSid on stdout; exit 0 placed, 1 refused or failed, 2 usage.
 */
import { pathToFileURL } from 'node:url';
import dotenv from 'dotenv';
import { isE164 } from '../config.js';

/** The server answers within Twilio's REST timeout (10 s); 15 s bounds the wait, in ms. */
export const CALL_COMMAND_TIMEOUT_MS = 15_000;

export interface CliIo {
  /** Results (the CallSid). */
  readonly out: (line: string) => void;
  /** Messages for the person at the shell. */
  readonly err: (line: string) => void;
  readonly fetch: typeof fetch;
}

type Env = Record<string, string | undefined>;

const USAGE = [
  'usage: npm run call -- <number> [--greeting "text"] [--assistant NAME] [--instructions "text"] [--server URL]',
  '  <number>        E.164, e.g. +15551234567',
  '  --greeting      what the assistant says first on this call',
  '  --assistant     the profile that answers (ASSISTANTS_FILE; default: the file\'s default)',
  '  --instructions  instructions for this call only, instead of the profile\'s',
  '  --server     the voice bridge (default VOICE_BRIDGE_URL or http://127.0.0.1:$PORT)',
  'needs API_TOKEN (environment or .env), the same as the server uses',
].join('\n');

interface Parsed {
  readonly to: string;
  readonly greeting: string | undefined;
  readonly server: string | undefined;
  /** POST /calls fields beyond `to` and `greeting`, as given (the server checks them). */
  readonly extra: Readonly<Record<string, string>>;
}

/** Options that become a POST /calls field of the same meaning. */
const BODY_OPTIONS: Readonly<Record<string, string>> = { '--assistant': 'assistant', '--instructions': 'instructions' };

function parseArgs(argv: readonly string[]): Parsed | { error: string } | 'help' {
  let to: string | undefined;
  let greeting: string | undefined;
  let server: string | undefined;
  const extra: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const field = BODY_OPTIONS[arg];
    if (field !== undefined) {
      const value = argv[++i];
      if (value === undefined) return { error: `${arg} needs a value` };
      extra[field] = value;
    } else if (arg === '--greeting' || arg === '-g' || arg === '--server') {
      const value = argv[++i];
      if (value === undefined) return { error: `${arg} needs a value` };
      if (arg === '--server') server = value;
      else greeting = value;
    } else if (arg.startsWith('-') && !/^\+?\d/.test(arg)) {
      return { error: `unknown option ${arg}` };
    } else if (to === undefined) {
      to = arg;
    } else {
      return { error: `unexpected argument ${arg}` };
    }
  }
  if (to === undefined) return { error: 'the number to call is missing' };
  if (!isE164(to)) return { error: `"${to}" is not an E.164 number such as +15551234567` };
  return { to, greeting, server, extra };
}

/** Runs the command; resolves with the exit code. */
export async function runCallCommand(argv: readonly string[], env: Env, io: CliIo): Promise<number> {
  const parsed = parseArgs(argv);
  if (parsed === 'help') {
    io.err(USAGE);
    return 0;
  }
  if ('error' in parsed) {
    io.err(`error: ${parsed.error}\n${USAGE}`);
    return 2;
  }
  const token = env.API_TOKEN?.trim();
  if (!token) {
    io.err('error: API_TOKEN is not set (environment or .env); POST /calls is disabled without it');
    return 2;
  }
  const base = (parsed.server ?? env.VOICE_BRIDGE_URL ?? `http://127.0.0.1:${env.PORT?.trim() || '3000'}`).replace(/\/$/, '');
  let response: Response;
  try {
    response = await io.fetch(`${base}/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: parsed.to, ...(parsed.greeting === undefined ? {} : { greeting: parsed.greeting }), ...parsed.extra }),
      signal: AbortSignal.timeout(CALL_COMMAND_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    io.err(`error: cannot reach the voice bridge at ${base} (${cause}); is it running (npm start)?`);
    return 1;
  }
  const body = (await response.json().catch(() => ({}))) as {
    callSid?: string | null;
    message?: string;
    code?: number | null;
    reason?: string;
    status?: string;
    detail?: string;
  };
  if (response.ok && typeof body.callSid === 'string') {
    io.out(body.callSid);
    io.err(`calling ${parsed.to}: ${body.callSid}`);
    return 0;
  }
  if (response.status === 202 && body.status === 'placed') {
    // Placed, but with no CallSid to print: succeed (a retry would call twice), say why.
    io.err(`calling ${parsed.to}: placed, CallSid unknown (${body.detail ?? 'no details'}); do not retry`);
    return 0;
  }
  const twilioCode = typeof body.code === 'number' ? `, Twilio error ${body.code}` : '';
  io.err(`error: HTTP ${response.status}${twilioCode}: ${body.message ?? body.reason ?? 'no details'}`);
  return 1;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  dotenv.config({ quiet: true });
  runCallCommand(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    fetch,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

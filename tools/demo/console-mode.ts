/**
 * `npm run demo -- --console`: the bridge with the local Realtime stand-in, for a person with a
 * browser and no keys at all. It prints the console's URL and a fresh API token, then runs until
 * Ctrl-C: open the console, press "Talk to the assistant", speak, hang up, read the call in the
 * history.
 *
 * The stand-in greets the caller (GREETING asks it for a response: it answers every response with
 * the agent fixture), answers each turn it hears (server-VAD-like, on loudness) with the same
 * fixture and its words as the transcript, and reports usage, so the record shows a conversation
 * and tokens. Records go to a SQLite file in a temporary directory, removed at exit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { startRealtimeStandIn, type RealtimeStandIn } from '../sim/realtime-stand-in.js';
import { startLocalBridge, type LocalBridge } from '../sim/local-bridge.js';

/**
 * Mean linear µ-law amplitude (0–32124) over which the stand-in hears speech. A laptop microphone
 * after the browser's noise suppression idles well below it; a speaking voice is in the thousands.
 * (The stand-in's default, 50, suits the clean fixtures, not a room.)
 */
export const CONSOLE_SPEECH_THRESHOLD = 300;

export interface ConsoleDemoOptions {
  /** @default a free port */
  readonly port?: number;
  /** Where lines go. @default console.log */
  readonly print?: (line: string) => void;
  /** Where the bridge's JSON log lines go. @default warnings and errors to stderr, as one line each */
  readonly logStream?: Writable;
}

export interface ConsoleDemo {
  readonly bridge: LocalBridge;
  readonly standIn: RealtimeStandIn;
  /** http://127.0.0.1:PORT/console/ */
  readonly consoleUrl: string;
  readonly apiToken: string;
  close(): Promise<void>;
}

export async function startConsoleDemo(opts: ConsoleDemoOptions = {}): Promise<ConsoleDemo> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), 'voice-bridge-console-demo-'));
  const apiToken = randomBytes(24).toString('base64url');
  let standIn: RealtimeStandIn | undefined;
  let bridge: LocalBridge | undefined;
  const close = async (): Promise<void> => {
    await bridge?.close();
    await standIn?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    standIn = await startRealtimeStandIn({ usage: true, turns: { threshold: CONSOLE_SPEECH_THRESHOLD } });
    bridge = await startLocalBridge({
      realtimeUrl: standIn.url,
      port: opts.port,
      logStream: opts.logStream ?? problemsToStderr(),
      env: {
        API_TOKEN: apiToken,
        CALL_RECORDS: 'on',
        CALLS_DB: join(dir, 'calls.db'),
        GREETING: 'Greet the caller.',
        LOG_LEVEL: 'warn',
      },
    });
  } catch (err) {
    await close();
    throw err;
  }
  const consoleUrl = `${bridge.baseUrl}/console/`;
  print('voice-bridge console demo: the bridge and a local stand-in for the Realtime API, no keys.');
  print('');
  print(`  open       ${consoleUrl}`);
  print(`  API token  ${apiToken}`);
  print('');
  print('Press "Talk to the assistant" and allow the microphone. The stand-in greets you, answers');
  print('each thing you say (after half a second of quiet) with the same recorded sentence, and');
  print('stops talking when you talk over it. Hang up, then open History to read the call.');
  print('Records are kept in a temporary database until you stop the demo (Ctrl-C).');
  return { bridge, standIn, consoleUrl, apiToken, close };
}

/** The bridge's JSON lines: warnings and errors as one readable line each on stderr. */
function problemsToStderr(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const record = JSON.parse(line) as { level?: number; msg?: string };
          if (typeof record.level === 'number' && record.level >= 40) {
            process.stderr.write(`bridge ${record.level >= 50 ? 'error' : 'warning'}: ${String(record.msg)}\n`);
          }
        } catch {
          // not JSON: not ours to print
        }
      }
      done();
    },
  });
}

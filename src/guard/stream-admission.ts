/**
 * Admitting a stream upgrade (the guard's hook, install.ts): credentials first, then, for valid
 * ones only, one live stream per CallSid, capacity, single use of the token, the call's lease in
 * the store and a call slot held until the TCP socket closes. Anonymous attempts are judged by the
 * same judge as the fast lane (judge.ts), asking the store only when it must.
 */
import { HOST_REFUSAL_ANSWERS, type HostAdmissions } from './host-admission.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { CallRegistry } from '../call-registry.js';
import type { Config } from '../config.js';
import { FORWARDED_PREFIX_HEADER, connectedStreamUrlBase } from '../twilio/stream-path.js';
import type { StreamAuth } from '../stream/route.js';
import { agentKey, judgedAddress } from './client-ip.js';
import { checkStreamCredentials, tokenId, type CredentialVerdict } from './credentials.js';
import type { ForwardedClients } from './forwarded-clients.js';
import { judgeUpgrade } from './judge.js';
import type { GuardStore } from './store.js';
import type { Judged, Verdicts } from './verdicts.js';

/**
 * A live call's lease in the store (one stream per CallSid across instances), ms: released when
 * the stream's socket closes; this long only if the release is lost (an instance killed
 * mid-call, a Redis outage at that moment). Longer than any Realtime session (60 min at most),
 * so a live call never outlives its lease; a CallSid never streams again after its call anyway.
 */
export const LIVE_CALL_LEASE_MS = 4 * 60 * 60 * 1000;

/** What the stream route receives; `slot` is released when the TCP socket closes. */
export type GuardedStreamAuth = StreamAuth & { readonly slot: { readonly ip: string; release(): void } };

/** Checks a stream token (and its upgrade signature, when sent) as of `now`. */
export type StreamCredentials = (token: string, headers: IncomingHttpHeaders, now: number) => CredentialVerdict;

/**
 * Twilio signs the public URL it connected to; behind the two-instance proxy that may carry
 * another instance's prefix, which the proxy stripped and names in a header (stream-path.ts).
 */
export function streamCredentials(config: Config): StreamCredentials {
  return (token, headers, now) =>
    checkStreamCredentials({
      streamSecret: config.streamSecret,
      twilioAuthToken: config.twilioAuthToken,
      streamUrlBase: connectedStreamUrlBase(config, headers[FORWARDED_PREFIX_HEADER]),
      token,
      signature: headers['x-twilio-signature'],
      now,
    });
}

export interface StreamAdmissionOptions {
  readonly config: Pick<Config, 'maxCalls' | 'maxStreamsPerIp'>;
  readonly registry: CallRegistry;
  readonly store: GuardStore;
  readonly verdicts: Pick<Verdicts, 'answer' | 'say'>;
  readonly credentials: StreamCredentials;
  /** Behind trusted proxies: where the fast lane learns the client addresses the hook saw. */
  readonly forwarded: ForwardedClients | undefined;
  /** Hands an admitted stream's socket from the connection cap to MAX_STREAMS_PER_IP. */
  readonly adopt: (socket: Socket) => void;
  /** For store calls nobody waits for (a lease release): logs the failure. */
  readonly logStoreFailure: (log: FastifyRequest['log'], op: string) => (err: unknown) => void;
  /** WORKERS > 1: the primary's host-wide count, asked after this process's registry (host-admission.ts). */
  readonly hostAdmissions?: HostAdmissions;
}

/** The hook's answer to a stream upgrade with `token`: a refusal sent, or `request.streamAuth` set. */
export function streamAdmission(opts: StreamAdmissionOptions): (at: Judged, token: string) => Promise<void> {
  const { config, registry, store, forwarded, logStoreFailure } = opts;
  const { say } = opts.verdicts;
  return async function gateStream(at, token) {
    const { request, ip, now } = at;
    if (forwarded !== undefined && typeof request.ip === 'string') {
      forwarded.learn(request.raw.socket.remoteAddress, request.headers['x-forwarded-for'], judgedAddress(request));
    }
    const credentials = opts.credentials(token, request.headers, now);
    const draining = registry.draining;
    // The fast lane's judge (judge.ts); the store is asked only about anonymous attempts.
    const first = judgeUpgrade({ credentials, draining, attempt: undefined });
    const judged =
      first.kind === 'ask_store'
        ? judgeUpgrade({ credentials, draining, attempt: await store.attempt(ip, agentKey(ip, request.headers['user-agent']), now, !draining) })
        : first;
    if (judged.kind === 'refuse') return opts.verdicts.answer(at, judged.answer);

    // Valid credentials: one stream per call first (a replayed webhook mints a fresh valid token
    // for a live call), capacity (local and cheap), then single use, then the slot.
    // (A token claimed and then refused for capacity stays used: Twilio does not retry a stream.)
    // Streams only: a pre-warmed upstream reserved for this very call must not refuse its stream.
    if (registry.isStreaming(judged.callSid)) return say(at, { status: 409, reason: 'call_live' });
    if (registry.streams >= config.maxCalls) return say(at, { status: 503, reason: 'capacity' });
    if (registry.streamsFrom(ip) >= config.maxStreamsPerIp) return say(at, { status: 429, reason: 'ip_cap' });
    const id = tokenId(judged.callSid, judged.expiresAt);
    if (!(await store.claimToken(id, judged.expiresAt * 1000, now))) return say(at, { status: 409, reason: 'token_reused' });
    // Every instance sharing the store: the call's lease (memory alone: this instance's view).
    const callSid = judged.callSid;
    if (!(await store.claimCall(callSid, now + LIVE_CALL_LEASE_MS, now))) return say(at, { status: 409, reason: 'call_live' });
    // Authoritative and synchronous: two upgrades racing for the last slot, or for one call, cannot both get it.
    const slot = registry.tryAcquire(ip, callSid);
    if (slot === 'call_live') return say(at, { status: 409, reason: 'call_live' }); // the lease is the live stream's
    if (typeof slot !== 'object') store.releaseCall(callSid).catch(logStoreFailure(request.log, 'release_call'));
    if (slot === 'capacity') return say(at, { status: 503, reason: 'capacity' });
    if (slot === 'ip_cap') return say(at, { status: 429, reason: 'ip_cap' });
    const host = await opts.hostAdmissions?.acquire(ip, callSid);
    if (host?.ok === false) {
      slot.release();
      store.releaseCall(callSid).catch(logStoreFailure(request.log, 'release_call'));
      return say(at, HOST_REFUSAL_ANSWERS[host.reason]);
    }
    // Held until the TCP socket closes, so the caps count real sockets whatever the route does.
    const socket = request.raw.socket;
    const release = (): void => {
      slot.release();
      host?.release();
      store.releaseCall(callSid).catch(logStoreFailure(request.log, 'release_call'));
    };
    socket.once('close', release);
    if (socket.destroyed) release(); // the client left during the claims
    // From now on MAX_STREAMS_PER_IP bounds this socket, not the connection cap (see connection-cap.ts).
    opts.adopt(socket);
    const auth: GuardedStreamAuth = { callSid, token, expiresAt: judged.expiresAt, slot };
    request.streamAuth = auth;
    request.log.debug({ callSid }, 'stream upgrade admitted');
  };
}

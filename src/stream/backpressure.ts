/**
 * Backpressure: never queue without bound behind a slow reader.
 *
 * Before each audio frame is sent, the receiving socket's `bufferedAmount` (bytes ws has
 * accepted but the kernel has not) is compared with BACKPRESSURE_BYTES. Over it, the frame is
 * dropped and counted: late audio is worse than missing audio on a phone call, and a queue that
 * only grows turns one slow peer into an out-of-memory process.
 */
import type { WebSocket } from 'ws';

/** Pure verdict: may `frameBytes` more go onto a socket holding `bufferedAmount`? */
export function hasRoom(bufferedAmount: number, limitBytes: number): boolean {
  return bufferedAmount <= limitBytes;
}

export interface DropCounter {
  frames: number;
  bytes: number;
}

/**
 * Sends `message` if the socket is open and under the limit; otherwise counts the drop of
 * `audioBytes` µ-law bytes. Returns whether it was sent.
 */
export function sendAudioFrame(
  socket: WebSocket,
  message: string,
  audioBytes: number,
  limitBytes: number,
  dropped: DropCounter,
): boolean {
  if (socket.readyState !== 1 /* OPEN */ || !hasRoom(socket.bufferedAmount, limitBytes)) {
    dropped.frames += 1;
    dropped.bytes += audioBytes;
    return false;
  }
  socket.send(message);
  return true;
}

// Types of media-stream.js for the Node tests that import it (the browser needs none).
export function newStreamSid(): string;
export function connectedMessage(): string;
export function startMessage(opts: { streamSid: string; callSid: string; token: string }): string;
export function mediaMessage(opts: { streamSid: string; sequenceNumber: number; chunk: number; timestamp: number; payload: string }): string;
export function markMessage(opts: { streamSid: string; sequenceNumber: number; name: string }): string;
export function stopMessage(opts: { streamSid: string; sequenceNumber: number; callSid: string }): string;
export function toBase64(bytes: Uint8Array): string;
export function fromBase64(text: string): Uint8Array;
export function parseBridgeMessage(data: unknown): { kind: 'media'; audio: Uint8Array } | { kind: 'mark'; name: string } | { kind: 'clear' } | null;

/**
 * The names of the bridge's call-control tools (src/calls/tools/), which a profile's `tools`
 * may list. `transfer_call` needs a number to dial (the profile's `transferNumber`).
 */
export const END_CALL = 'end_call';
export const TRANSFER_CALL = 'transfer_call';
export const BRIDGE_TOOL_NAMES: readonly string[] = Object.freeze([END_CALL, TRANSFER_CALL]);

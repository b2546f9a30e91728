/**
 * A profile's tool names → the bridge's tool implementations for its calls. Built per profile:
 * transfer_call carries the profile's own number. Without Twilio REST credentials the caller
 * declares none (hang-up and transfer need the REST API), as before profiles. A browser call
 * (the console's softphone) has no Twilio call to transfer: it never declares transfer_call.
 */
import type { CallTool } from '../calls/tools/tool.js';
import { endCallTool } from '../calls/tools/end-call.js';
import { transferCallTool } from '../calls/tools/transfer-call.js';
import type { Assistant } from './assistant.js';
import { END_CALL, TRANSFER_CALL } from './tool-names.js';

export function callToolsFor(assistant: Pick<Assistant, 'tools' | 'transferNumber'>, opts: { readonly browser?: boolean } = {}): CallTool[] {
  const tools: CallTool[] = [];
  for (const name of assistant.tools) {
    if (name === END_CALL) tools.push(endCallTool);
    // A validated profile always has a number with transfer_call (validate refuses it otherwise).
    else if (name === TRANSFER_CALL && assistant.transferNumber !== undefined && opts.browser !== true) tools.push(transferCallTool(assistant.transferNumber));
  }
  return tools;
}

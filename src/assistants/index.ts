/** Assistant profiles: what the rest of the bridge imports. */
export { assistantForNumber, assistantNamed, withInstructions, type Assistant, type Assistants } from './assistant.js';
export { AssistantBook, type ReloadResult } from './book.js';
export { callToolsFor } from './call-tools.js';
export { IMPLICIT_ASSISTANT_NAME, profilesFromConfig, type ImplicitAssistantSettings } from './from-config.js';
export { AssistantsError, loadAssistants, type LoadOptions } from './load.js';
export * from './limits.js';
export { BRIDGE_TOOL_NAMES, END_CALL, TRANSFER_CALL } from './tool-names.js';
export { validateAssistants, type AssistantsVerdict, type ValidateOptions } from './validate.js';
export { REALTIME_VOICES } from './voices.js';

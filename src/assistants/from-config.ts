/**
 * The one implicit profile when ASSISTANTS_FILE is unset: exactly what the environment gave every
 * call before profiles existed (OPENAI_INSTRUCTIONS, OPENAI_MODEL, OPENAI_VOICE, GREETING;
 * end_call, and transfer_call when TRANSFER_NUMBER is set), named "default", every number on it.
 */
import { frozenRecord, type Assistant, type Assistants } from './assistant.js';
import { END_CALL, TRANSFER_CALL } from './tool-names.js';
import type { Prices } from '../usage/prices.js';

/** The profile name used when there is no assistants file. */
export const IMPLICIT_ASSISTANT_NAME = 'default';

/** The configuration fields the implicit profile is built from (a subset of Config). */
export interface ImplicitAssistantSettings {
  readonly openaiInstructions: string;
  readonly openaiModel: string;
  readonly openaiVoice: string;
  readonly greeting: string | undefined;
  readonly transferNumber: string | undefined;
  /** The proposed MODEL_PRICES variable, once config has it. */
  readonly modelPrices?: Prices | undefined;
}

export function profilesFromConfig(config: ImplicitAssistantSettings): Assistants {
  const profile: Assistant = Object.freeze({
    name: IMPLICIT_ASSISTANT_NAME,
    instructions: config.openaiInstructions,
    model: config.openaiModel,
    voice: config.openaiVoice,
    greeting: config.greeting,
    tools: Object.freeze(config.transferNumber ? [END_CALL, TRANSFER_CALL] : [END_CALL]),
    transferNumber: config.transferNumber,
    language: undefined,
    prices: config.modelPrices,
  });
  return Object.freeze({
    default: profile,
    byName: frozenRecord([[profile.name, profile]]),
    numbers: frozenRecord<string>([]),
    source: undefined,
  });
}

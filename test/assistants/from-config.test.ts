import { describe, expect, it } from 'vitest';
import { profilesFromConfig, IMPLICIT_ASSISTANT_NAME } from '../../src/assistants/from-config.js';
import { assistantForNumber } from '../../src/assistants/assistant.js';
import { callToolsFor } from '../../src/assistants/call-tools.js';
import { BRIDGE_TOOL_NAMES, END_CALL, TRANSFER_CALL } from '../../src/assistants/tool-names.js';
import { endCallTool } from '../../src/calls/tools/end-call.js';
import { transferCallTool } from '../../src/calls/tools/transfer-call.js';
import { sessionUpdateFor } from '../../src/stream/realtime-events.js';
import { testConfig } from '../helpers/config.js';

describe('profilesFromConfig: no ASSISTANTS_FILE means today’s behaviour', () => {
  it('builds one profile from the defaults of the environment', () => {
    const config = testConfig();
    const assistants = profilesFromConfig(config);
    expect(assistants.default).toEqual({
      name: IMPLICIT_ASSISTANT_NAME,
      instructions: config.openaiInstructions,
      model: 'gpt-realtime',
      voice: 'marin',
      greeting: undefined,
      tools: [END_CALL],
      transferNumber: undefined,
      language: undefined,
      prices: undefined,
    });
    expect(config.openaiInstructions).toMatch(/^You are a friendly, concise phone assistant\./);
    expect(Object.keys(assistants.byName)).toEqual([IMPLICIT_ASSISTANT_NAME]);
    expect(Object.keys(assistants.numbers)).toEqual([]);
    expect(assistantForNumber(assistants, '+15005550006')).toBe(assistants.default);
    expect(Object.isFrozen(assistants) && Object.isFrozen(assistants.default)).toBe(true);
  });

  it('carries OPENAI_INSTRUCTIONS, OPENAI_MODEL, OPENAI_VOICE, GREETING and TRANSFER_NUMBER', () => {
    const config = testConfig({
      OPENAI_INSTRUCTIONS: 'Be a pirate.',
      OPENAI_MODEL: 'gpt-realtime-mini',
      OPENAI_VOICE: 'custom-voice', // not checked against the voice list, as before profiles
      GREETING: 'Ahoy.',
      TRANSFER_NUMBER: '+15005550009',
    });
    expect(profilesFromConfig(config).default).toEqual({
      name: 'default',
      instructions: 'Be a pirate.',
      model: 'gpt-realtime-mini',
      voice: 'custom-voice',
      greeting: 'Ahoy.',
      tools: [END_CALL, TRANSFER_CALL],
      transferNumber: '+15005550009',
      language: undefined,
      prices: undefined,
    });
  });

  it('gives the session.update the environment did: its instructions and voice, no language hint, its tools', () => {
    for (const env of [{}, { OPENAI_INSTRUCTIONS: 'Line one.\nLine "two".', OPENAI_VOICE: 'cedar' }]) {
      const config = testConfig(env);
      const profile = profilesFromConfig(config).default;
      const declarations = callToolsFor(profile).map((t) => t.declaration);
      const { session } = JSON.parse(sessionUpdateFor(profile, declarations)) as {
        session: { instructions: string; audio: { input: { transcription: unknown }; output: { voice: string } }; tools?: unknown };
      };
      expect(session.instructions).toBe(config.openaiInstructions);
      expect(session.audio.output.voice).toBe(config.openaiVoice);
      expect(session.audio.input.transcription).toEqual({ model: 'gpt-4o-mini-transcribe' });
      expect(session.tools).toEqual(declarations);
      expect(JSON.parse(sessionUpdateFor(profile)).session).not.toHaveProperty('tools');
    }
  });

  it('declares the same tools as before: end_call, and transfer_call dialling TRANSFER_NUMBER', () => {
    const plain = profilesFromConfig(testConfig()).default;
    expect(callToolsFor(plain)).toEqual([endCallTool]);
    const transfer = profilesFromConfig(testConfig({ TRANSFER_NUMBER: '+15005550009' })).default;
    expect(callToolsFor(transfer).map((t) => t.declaration)).toEqual([endCallTool.declaration, transferCallTool('+15005550009').declaration]);
  });

  it('names the bridge tools as the tools themselves do', () => {
    expect(BRIDGE_TOOL_NAMES).toEqual([endCallTool.declaration.name, transferCallTool('+15005550009').declaration.name]);
  });
});

describe('sessionUpdateFor: a profile’s session.update', () => {
  it('carries the profile’s instructions, voice, tools and transcription language', () => {
    const profile = { instructions: 'You sell.', voice: 'cedar', language: 'de' };
    const sent = JSON.parse(sessionUpdateFor(profile, [endCallTool.declaration])) as {
      session: { instructions: string; audio: { input: { transcription: unknown }; output: { voice: string } }; tools: { name: string }[]; tool_choice: string };
    };
    expect(sent.session.instructions).toBe('You sell.');
    expect(sent.session.audio.output.voice).toBe('cedar');
    expect(sent.session.audio.input.transcription).toEqual({ model: 'gpt-4o-mini-transcribe', language: 'de' });
    expect(sent.session.tools.map((t) => t.name)).toEqual(['end_call']);
    expect(sent.session.tool_choice).toBe('auto');
  });
});

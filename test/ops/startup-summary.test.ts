import { describe, expect, it } from 'vitest';
import { guardStoreLabel, isLoopbackHost, listenUrl, signatureWarning, startupSummary } from '../../src/ops/startup-summary.js';
import { restSettingsNotice } from '../../src/calls/twilio-rest.js';
import { testConfig } from '../helpers/config.js';
import { profilesFromConfig } from '../../src/assistants/from-config.js';
import { validateAssistants } from '../../src/assistants/validate.js';
import type { Config } from '../../src/config.js';

/** The summary with the profiles the environment gives (no ASSISTANTS_FILE). */
const summaryOf = (config: Config) => startupSummary(config, address, profilesFromConfig(config));

const address = { address: '127.0.0.1', family: 'IPv4', port: 3000 };

describe('startupSummary', () => {
  it('lists the webhook URLs to paste into Twilio, and what is running', () => {
    const summary = summaryOf(testConfig({ PUBLIC_URL: 'https://voice.example.com/', LOG_LEVEL: 'warn' }));
    expect(summary).toEqual({
      listening: 'http://127.0.0.1:3000',
      webhooks: {
        voice: 'https://voice.example.com/twilio/voice',
        outbound: 'https://voice.example.com/twilio/outbound',
        streamStatus: 'https://voice.example.com/twilio/stream-status',
        callStatus: 'https://voice.example.com/twilio/call-status',
      },
      streamUrl: 'wss://voice.example.com/twilio/stream/<token>',
      guardStore: 'memory',
      signatures: 'on',
      assistants: { file: null, default: 'default', numbers: 0, profiles: { default: { model: 'gpt-realtime', voice: 'marin', tools: [], priced: false } } },
      callsApi: 'off',
      transcriptsInLog: false,
      drainTimeoutSeconds: 600,
      logLevel: 'warn',
    });
  });

  it('names the tools the configuration enables, exactly as call control declares them', () => {
    const sid = 'AC' + '1'.repeat(32);
    const toolsOf = (env: Record<string, string | undefined>) => summaryOf(testConfig(env)).assistants.profiles.default?.tools;
    expect(toolsOf({ TWILIO_ACCOUNT_SID: sid })).toEqual(['end_call']);
    expect(toolsOf({ TWILIO_ACCOUNT_SID: sid, TRANSFER_NUMBER: '+15557654321' })).toEqual(['end_call', 'transfer_call']);
    // No REST without the auth token: no tools, whatever else is set.
    const unsigned = summaryOf(testConfig({ TWILIO_ACCOUNT_SID: sid, TRANSFER_NUMBER: '+15557654321', TWILIO_AUTH_TOKEN: undefined }));
    expect(unsigned).toMatchObject({ signatures: 'off', assistants: { profiles: { default: { tools: [] } } } });
  });

  it('lists each profile of an assistants file with its model, voice, tools and whether it is priced', () => {
    const config = testConfig({ TWILIO_ACCOUNT_SID: 'AC' + '1'.repeat(32), MODEL_PRICES: '{"input":{"text":4,"audio":32,"cached":0.4},"output":{"text":16,"audio":64}}' });
    const verdict = validateAssistants(
      {
        default: 'desk',
        assistants: {
          desk: { instructions: 'Desk.', tools: ['end_call'] },
          sales: { instructions: 'Sell.', voice: 'cedar', tools: ['end_call', 'transfer_call'], transferNumber: '+15005550009' },
          night: { instructions: 'Night.', model: 'gpt-realtime-mini', tools: [] },
        },
        numbers: { '+15005550006': 'sales', '+15005550007': 'night' },
      },
      { dir: '/', source: '/etc/voice-bridge/assistants.json', defaults: { model: config.openaiModel, voice: config.openaiVoice, prices: config.modelPrices } },
    );
    if (!verdict.ok) throw new Error(verdict.problems.join('\n'));
    expect(startupSummary(config, address, verdict.assistants).assistants).toEqual({
      file: '/etc/voice-bridge/assistants.json',
      default: 'desk',
      numbers: 2,
      profiles: {
        desk: { model: 'gpt-realtime', voice: 'marin', tools: ['end_call'], priced: true },
        sales: { model: 'gpt-realtime', voice: 'cedar', tools: ['end_call', 'transfer_call'], priced: true },
        // MODEL_PRICES are OPENAI_MODEL's prices: a profile on another model without its own gets none.
        night: { model: 'gpt-realtime-mini', voice: 'marin', tools: [], priced: false },
      },
    });
  });

  it('shows the Redis host and port, never its credentials', () => {
    expect(guardStoreLabel({ redisUrl: 'redis://user:hunter2@redis.internal:6380/3' })).toBe('redis redis.internal:6380');
    expect(guardStoreLabel({ redisUrl: 'rediss://:hunter2@cache.example.com' })).toBe('rediss cache.example.com:6379');
    expect(guardStoreLabel({ redisUrl: undefined })).toBe('memory');
    const summary = summaryOf(testConfig({ REDIS_URL: 'redis://:hunter2@10.0.0.5:6379' }));
    expect(summary.guardStore).toBe('redis 10.0.0.5:6379');
    expect(JSON.stringify(summary)).not.toContain('hunter2');
  });

  it('formats IPv6 listening addresses in brackets', () => {
    expect(listenUrl({ address: '::', family: 'IPv6', port: 3000 })).toBe('http://[::]:3000');
    expect(listenUrl({ address: '0.0.0.0', family: 'IPv4', port: 80 })).toBe('http://0.0.0.0:80');
  });
});

describe('signatureWarning', () => {
  it('is silent when signatures are checked', () => {
    expect(signatureWarning(testConfig())).toBeNull();
    expect(signatureWarning(testConfig({ HOST: '0.0.0.0' }))).toBeNull();
  });

  it('warns on loopback, and shouts (error) when an unsigned server is reachable from the network', () => {
    expect(signatureWarning(testConfig({ TWILIO_AUTH_TOKEN: undefined }))).toEqual({
      level: 'warn',
      msg: 'TWILIO_AUTH_TOKEN is not set: webhook signatures are NOT checked; listening on 127.0.0.1 only (set TWILIO_AUTH_TOKEN before exposing it to Twilio)',
    });
    expect(signatureWarning(testConfig({ TWILIO_AUTH_TOKEN: undefined, HOST: '::1' }))?.level).toBe('warn');
    expect(signatureWarning(testConfig({ TWILIO_AUTH_TOKEN: undefined, HOST: '0.0.0.0', PORT: '3000' }))).toEqual({
      level: 'error',
      msg:
        'TWILIO_AUTH_TOKEN is not set and HOST=0.0.0.0 was set explicitly: webhook signatures are NOT checked, so anyone who ' +
        'can reach port 3000 can open paid Realtime sessions unsigned. Set TWILIO_AUTH_TOKEN, or unset HOST to listen on 127.0.0.1 only',
    });
    expect(signatureWarning(testConfig({ TWILIO_AUTH_TOKEN: undefined, HOST: '10.1.2.3' }))?.level).toBe('error');
  });

  it('knows loopback hosts', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].map(isLoopbackHost)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.1', '127.example.com'].map(isLoopbackHost)).toEqual([false, false, false, false]);
  });
});

describe('restSettingsNotice', () => {
  const sid = 'AC' + '1'.repeat(32);
  it('names exactly what is missing', () => {
    expect(restSettingsNotice(testConfig())).toBe('TWILIO_ACCOUNT_SID not set: no end_call/transfer_call tools');
    expect(restSettingsNotice(testConfig({ TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: undefined }))).toBe(
      'TWILIO_AUTH_TOKEN not set: no end_call/transfer_call tools',
    );
    expect(restSettingsNotice(testConfig({ TWILIO_AUTH_TOKEN: undefined }))).toBe(
      'TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN not set: no end_call/transfer_call tools',
    );
    expect(restSettingsNotice(testConfig({ API_TOKEN: 'x'.repeat(32) }))).toBe(
      'TWILIO_ACCOUNT_SID, TWILIO_PHONE_NUMBER not set: no end_call/transfer_call tools, and POST /calls answers 503',
    );
    expect(restSettingsNotice(testConfig({ TWILIO_ACCOUNT_SID: sid, API_TOKEN: 'x'.repeat(32) }))).toBe(
      'TWILIO_PHONE_NUMBER not set: POST /calls answers 503',
    );
    expect(restSettingsNotice(testConfig({ TWILIO_ACCOUNT_SID: sid }))).toBeNull();
    expect(restSettingsNotice(testConfig({ TWILIO_ACCOUNT_SID: sid, API_TOKEN: 'x'.repeat(32), TWILIO_PHONE_NUMBER: '+15550001111' }))).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { guardStoreLabel, isLoopbackHost, listenUrl, signatureWarning, startupSummary } from '../../src/ops/startup-summary.js';
import { restSettingsNotice } from '../../src/calls/twilio-rest.js';
import { testConfig } from '../helpers/config.js';

const address = { address: '127.0.0.1', family: 'IPv4', port: 3000 };

describe('startupSummary', () => {
  it('lists the webhook URLs to paste into Twilio, and what is running', () => {
    const summary = startupSummary(testConfig({ PUBLIC_URL: 'https://voice.example.com/', LOG_LEVEL: 'warn' }), address);
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
      tools: [],
      callsApi: 'off',
      transcriptsInLog: false,
      drainTimeoutSeconds: 600,
      logLevel: 'warn',
    });
  });

  it('names the tools the configuration enables, exactly as call control declares them', () => {
    const sid = 'AC' + '1'.repeat(32);
    expect(startupSummary(testConfig({ TWILIO_ACCOUNT_SID: sid }), address).tools).toEqual(['end_call']);
    expect(startupSummary(testConfig({ TWILIO_ACCOUNT_SID: sid, TRANSFER_NUMBER: '+15557654321' }), address).tools).toEqual([
      'end_call',
      'transfer_call',
    ]);
    // No REST without the auth token: no tools, whatever else is set.
    expect(
      startupSummary(testConfig({ TWILIO_ACCOUNT_SID: sid, TRANSFER_NUMBER: '+15557654321', TWILIO_AUTH_TOKEN: undefined }), address),
    ).toMatchObject({ tools: [], signatures: 'off' });
  });

  it('shows the Redis host and port, never its credentials', () => {
    expect(guardStoreLabel({ redisUrl: 'redis://user:hunter2@redis.internal:6380/3' })).toBe('redis redis.internal:6380');
    expect(guardStoreLabel({ redisUrl: 'rediss://:hunter2@cache.example.com' })).toBe('rediss cache.example.com:6379');
    expect(guardStoreLabel({ redisUrl: undefined })).toBe('memory');
    const summary = startupSummary(testConfig({ REDIS_URL: 'redis://:hunter2@10.0.0.5:6379' }), address);
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

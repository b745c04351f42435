import { describe, expect, it } from 'vitest';
import type { Account } from '../accounts/model.ts';
import { appTileLanding } from './app-tiles.ts';

const account = (trustedUrls: string[], defaultRedirectUrl: string | null): Account => ({
  sid: 'AC00000000000000000000000000000000',
  friendlyName: 'test',
  instanceSid: 'GO00000000000000000000000000000000',
  authTokenHash: '',
  trustedUrls,
  defaultRedirectUrl,
  idpInitiatedLogin: false,
  ssoMode: 'enhanced',
  modeChangedAt: null,
  previousMode: null,
  createdAt: 0,
});

describe('appTileLanding', () => {
  it('sends the browser to a Default redirect URL under a Trusted URL', () => {
    expect(appTileLanding(account(['https://desk.example.com/agent'], 'https://desk.example.com/agent/'))).toBe('https://desk.example.com/agent/');
  });

  it('refuses a Default redirect URL that no Trusted URL covers, naming the fix', () => {
    expect(() => appTileLanding(account(['https://desk.example.com/agent'], 'https://other.example.com/'))).toThrow(
      /not under any of the account's Trusted URLs.*lanyard trusted-urls add/,
    );
  });

  it('refuses when there is no Default redirect URL', () => {
    expect(() => appTileLanding(account(['https://desk.example.com/agent'], null))).toThrow(/no Default redirect URL/);
  });
});

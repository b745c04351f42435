import { randomIdBytes } from './crypto/random.ts';
import { InvalidParameterError } from './errors.ts';

/** SID prefixes from the SPEC. */
export const SidPrefix = {
  account: 'AC',
  instance: 'GO',
  connection: 'JQ',
  user: 'FU',
  worker: 'WK',
  adminKey: 'SK',
} as const;
export type SidKind = keyof typeof SidPrefix;

const SID_BODY = /^[0-9a-fA-F]{32}$/;

export function newSid(kind: SidKind): string {
  return SidPrefix[kind] + randomIdBytes(16).toString('hex');
}

export function isSid(kind: SidKind, value: unknown): value is string {
  return typeof value === 'string' && value.length === 34 && value.startsWith(SidPrefix[kind]) && SID_BODY.test(value.slice(2));
}

const SID_NAMES: Record<SidKind, string> = {
  account: 'an account SID',
  instance: 'an instance SID',
  connection: 'an SSO profile SID (connection)',
  user: 'a user SID',
  worker: 'a worker SID',
  adminKey: 'an admin key SID',
};

/**
 * Throws a 400 (20001) naming the parameter and the expected form. The value sent is never
 * quoted back (it is client input: error text must not echo it), only whether one was sent.
 * The text keeps to RFC 6749's error_description characters (no quotes or backslashes).
 */
export function requireSid(kind: SidKind, value: unknown, parameter: string): string {
  if (isSid(kind, value)) return value;
  const sent = typeof value === 'string' ? 'the value sent is not one' : 'none was sent';
  throw new InvalidParameterError(`${parameter} must be ${SID_NAMES[kind]}: ${SidPrefix[kind]} followed by 32 hex characters (${sent}).`);
}

/**
 * The Flex identity: the user's unique id with every byte outside [A-Za-z0-9] written `_XX`
 * (upper-case hex of each UTF-8 byte). `ada@x.org` → `ada_40x_2Eorg`.
 */
export function encodeIdentity(uniqueId: string): string {
  let out = '';
  for (const byte of Buffer.from(uniqueId, 'utf8')) {
    const isAlnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    out += isAlnum ? String.fromCharCode(byte) : '_' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

import { createSign, generateKeyPairSync, verify } from 'node:crypto';
import { generate } from 'selfsigned';
import { describe, expect, it } from 'vitest';
import { publicKeyOfPem } from './parsed-keys.ts';

describe('publicKeyOfPem', () => {
  it("gives a certificate's own public key, parsed once: a signature by its private key verifies, one by another key does not", async () => {
    const issued = await generate([{ name: 'commonName', value: 'parsed-keys test' }], { keyType: 'rsa', keySize: 2048, algorithm: 'sha256' });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const data = Buffer.from('<ds:SignedInfo>…</ds:SignedInfo>');
    const signedBy = (key: Parameters<ReturnType<typeof createSign>['sign']>[0]) => createSign('RSA-SHA256').update(data).sign(key);

    const key = publicKeyOfPem(issued.cert);
    expect(key.type).toBe('public');
    expect(verify('RSA-SHA256', data, key, signedBy(issued.private))).toBe(true);
    expect(verify('RSA-SHA256', data, key, signedBy(other.privateKey))).toBe(false);
    expect(publicKeyOfPem(issued.cert)).toBe(key);
  });

  it('throws for a PEM that does not parse, every time', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
    expect(() => publicKeyOfPem(broken)).toThrow();
    expect(() => publicKeyOfPem(broken)).toThrow();
  });

  it('keeps at most 256 keys, the least recently used going first (certificate rollovers do not grow it)', () => {
    const pems = Array.from({ length: 257 }, () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    const first = publicKeyOfPem(pems[0]!);
    const second = publicKeyOfPem(pems[1]!);
    // The first is used again: the second is now the least recently used of the two.
    expect(publicKeyOfPem(pems[0]!)).toBe(first);
    for (const pem of pems.slice(2)) publicKeyOfPem(pem);
    // 257 keys went through a map of 256: the second went, the first stayed.
    expect(publicKeyOfPem(pems[0]!)).toBe(first);
    const again = publicKeyOfPem(pems[1]!);
    expect(again).not.toBe(second);
    expect(again.equals(second)).toBe(true);
  });
});

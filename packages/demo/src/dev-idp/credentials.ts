import { generate } from 'selfsigned';

export interface SigningCredentials {
  privateKeyPem: string;
  certificatePem: string;
}

/** A fresh RSA-2048 key and self-signed certificate: the IdP's signing identity. */
export async function generateSigningCredentials(commonName = 'Lanyard development IdP', validDays = 365): Promise<SigningCredentials> {
  const now = Date.now();
  const result = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + validDays * 86_400_000),
  });
  return { privateKeyPem: result.private, certificatePem: result.cert };
}

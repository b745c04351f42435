import { X509Certificate } from 'node:crypto';
import { InvalidParameterError } from '../errors.ts';

export interface CertificateSummary {
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  /** Days until expiry (negative once expired). */
  daysLeft: number;
}

/** Accepts PEM or bare base64 DER (as found in metadata) and returns canonical PEM. */
export function normalizeCertificate(input: string): string {
  const body = input
    .replace(/-----BEGIN CERTIFICATE-----/g, '')
    .replace(/-----END CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length < 100) {
    throw new InvalidParameterError(
      'The X.509 certificate is not valid PEM or base64: paste the whole "-----BEGIN CERTIFICATE-----" block from the IdP.',
    );
  }
  const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new InvalidParameterError('The X.509 certificate could not be parsed: paste the signing certificate exactly as the IdP shows it.');
  }
  // Most IdP signing certificates are self-signed: their own signature must verify, which
  // catches a certificate damaged in copy and paste that still parses. Self-signed is read from
  // the names (subject = issuer), not checkIssued(): OpenSSL's issuer check also wants keyCertSign
  // in a key usage extension, which many IdP certificates (rightly) lack, and then skipped this.
  if (cert.subject === cert.issuer && !cert.verify(cert.publicKey)) {
    throw new InvalidParameterError('The X.509 certificate is damaged (its self-signature does not verify): copy it again from the IdP.');
  }
  return pem;
}

export function describeCertificate(pem: string, now = Date.now()): CertificateSummary {
  const cert = new X509Certificate(pem);
  const validTo = new Date(cert.validTo);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    fingerprint256: cert.fingerprint256,
    daysLeft: Math.floor((validTo.getTime() - now) / 86_400_000),
  };
}

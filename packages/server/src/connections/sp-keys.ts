import type { Connection } from '../accounts/model.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { Storage } from '../storage/port.ts';

const SP_KEY = 'sp_key';
/** An SP certificate is only a key container for the IdP; it outlives many rollovers. */
const CERTIFICATE_DAYS = 5 * 365;
/** Published and accepted at once: the current key and the one it replaces (a rollover). */
const MAX_KEYS_PER_USE = 2;

/** `signing`: AuthnRequest signatures. `encryption`: the IdP encrypts assertions to it. */
export type SpKeyUse = 'signing' | 'encryption';
export const SP_KEY_USES: readonly SpKeyUse[] = ['signing', 'encryption'];

/** One service-provider key of a connection; the private key is sealed with the server's secret key. */
export interface SpKey {
  id: string;
  connectionSid: string;
  use: SpKeyUse;
  /** Generation number within (connection, use): 1, 2, … — the highest is current. */
  generation: number;
  certificatePem: string;
  sealedPrivateKey: string;
  createdAt: number;
}

/** What a SAML exchange needs from the keys: private keys opened, newest first. */
export interface SpKeyMaterial {
  /** Every encryption key still published: an IdP may encrypt to either during a rollover. */
  decryptionKeys: string[];
  encryptionCertificates: string[];
  /** The current signing key (the newest). */
  signing: { privateKeyPem: string; certificatePem: string };
  signingCertificates: string[];
}

/** Public view of a key, for the admin API and CLI. */
export interface SpKeySummary {
  id: string;
  use: SpKeyUse;
  generation: number;
  current: boolean;
  certificate: string;
  created_at: string;
}

/**
 * The service-provider keys of each connection (SAML metadata `KeyDescriptor use="signing"` and
 * `use="encryption"`). Created on first use; a rollover adds a second key that is published next
 * to the first, and retiring removes the older one once the IdP has the new certificate.
 */
export class SpKeys {
  constructor(
    private readonly storage: Storage,
    private readonly secrets: SecretBox,
  ) {}

  /** The connection's keys of `use`, newest first; creates the first one when there is none. */
  async keysOf(connection: Pick<Connection, 'sid' | 'accountSid'>, use: SpKeyUse): Promise<SpKey[]> {
    let keys = await this.stored(connection, use);
    if (keys.length === 0) {
      await this.create(connection, use, 1);
      keys = await this.stored(connection, use);
    }
    return keys;
  }

  /** The lazy view a SamlConnection takes: keys are created or unsealed only when a message needs them. */
  sourceFor(connection: Pick<Connection, 'sid' | 'accountSid'>): {
    decryptionKeys(): Promise<string[]>;
    signing(): Promise<SpKeyMaterial['signing']>;
  } {
    return {
      decryptionKeys: async () => (await this.keysOf(connection, 'encryption')).map((k) => this.secrets.open(k.sealedPrivateKey)),
      signing: async () => {
        const current = (await this.keysOf(connection, 'signing'))[0]!;
        return { privateKeyPem: this.secrets.open(current.sealedPrivateKey), certificatePem: current.certificatePem };
      },
    };
  }

  async material(connection: Pick<Connection, 'sid' | 'accountSid'>): Promise<SpKeyMaterial> {
    const [encryption, signing] = await Promise.all([this.keysOf(connection, 'encryption'), this.keysOf(connection, 'signing')]);
    const current = signing[0]!;
    return {
      decryptionKeys: encryption.map((k) => this.secrets.open(k.sealedPrivateKey)),
      encryptionCertificates: encryption.map((k) => k.certificatePem),
      signing: { privateKeyPem: this.secrets.open(current.sealedPrivateKey), certificatePem: current.certificatePem },
      signingCertificates: signing.map((k) => k.certificatePem),
    };
  }

  /**
   * Starts a rollover: a new key becomes current, the previous one stays published (and, for
   * encryption, still decrypts) until `retire`. Refused while two keys exist: finish the last
   * rollover first, or an IdP that has not caught up would lose its key without warning.
   */
  async rollover(connection: Pick<Connection, 'sid' | 'accountSid'>, use: SpKeyUse): Promise<SpKey> {
    const keys = await this.keysOf(connection, use);
    if (keys.length >= MAX_KEYS_PER_USE) {
      throw new ConflictError(
        `The connection already has two ${use} keys (a rollover in progress). Once the IdP has the new certificate, retire the old key (lanyard sp-keys retire), then roll over again.`,
      );
    }
    const created = await this.create(connection, use, keys[0]!.generation + 1);
    if (!created) throw new ConflictError(`Another rollover of the ${use} key happened at the same time; list the keys and try again.`);
    return created;
  }

  /** Ends a rollover: removes every key of `use` but the newest. */
  async retire(connection: Pick<Connection, 'sid' | 'accountSid'>, use: SpKeyUse): Promise<SpKey[]> {
    const keys = await this.stored(connection, use);
    if (keys.length < 2) throw new NotFoundError(`The connection has no older ${use} key to retire (no rollover in progress).`);
    for (const old of keys.slice(1)) await this.storage.destroy(SP_KEY, old.id);
    return keys.slice(1);
  }

  async summaries(connection: Pick<Connection, 'sid' | 'accountSid'>): Promise<SpKeySummary[]> {
    const out: SpKeySummary[] = [];
    for (const use of SP_KEY_USES) {
      (await this.keysOf(connection, use)).forEach((k, index) =>
        out.push({
          id: k.id,
          use,
          generation: k.generation,
          current: index === 0,
          certificate: k.certificatePem,
          created_at: new Date(k.createdAt).toISOString(),
        }),
      );
    }
    return out;
  }

  private async stored(connection: Pick<Connection, 'sid' | 'accountSid'>, use: SpKeyUse): Promise<SpKey[]> {
    const records = await this.storage.list<SpKey>(SP_KEY, { accountSid: connection.accountSid });
    return records
      .map((r) => r.payload)
      .filter((k) => k.connectionSid === connection.sid && k.use === use)
      .sort((a, b) => b.generation - a.generation);
  }

  /** Inserts generation `generation`; false-y when another node created it first (the id is fixed). */
  private async create(connection: Pick<Connection, 'sid' | 'accountSid'>, use: SpKeyUse, generation: number): Promise<SpKey | undefined> {
    const now = Date.now();
    // Loaded on first use: certificate generation pulls in a large X.509 stack every CLI command would pay for.
    const { generate } = await import('selfsigned');
    const generated = await generate([{ name: 'commonName', value: `Lanyard SP ${use} ${connection.sid} #${generation}` }], {
      keyType: 'rsa',
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate: new Date(now - 60_000),
      notAfterDate: new Date(now + CERTIFICATE_DAYS * 86_400_000),
    });
    const key: SpKey = {
      id: `${connection.sid}.${use}.${generation}`,
      connectionSid: connection.sid,
      use,
      generation,
      certificatePem: generated.cert,
      sealedPrivateKey: this.secrets.seal(generated.private),
      createdAt: now,
    };
    const inserted = await this.storage.insert({ kind: SP_KEY, id: key.id, accountSid: connection.accountSid, payload: key });
    return inserted ? key : undefined;
  }
}

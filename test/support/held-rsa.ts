import type * as Jose from 'jose';

/**
 * RSA key generation held until a test releases it: the state a server is in just after start on
 * a fresh database (its RS256 key is made in the background), for as long as the test needs, however
 * fast the machine generates RSA keys (50–500 ms). A test file installs it with
 * `vi.mock('jose', async (original) => (await import('<path>/held-rsa.ts')).joseWithHeldRsa(await original()))`
 * and drives it through `heldRsa`.
 */
const gate = { release: () => {}, opened: Promise.resolve() };

export const heldRsa = {
  /** RS256 key generation waits from now on, until `release`. */
  hold(): void {
    gate.opened = new Promise<void>((resolve) => (gate.release = resolve));
  },
  release(): void {
    gate.release();
  },
};

/** jose with `generateKeyPair('RS256')` waiting for `heldRsa.release()`; everything else as is. */
export function joseWithHeldRsa(jose: typeof Jose): typeof Jose {
  return {
    ...jose,
    generateKeyPair: async (...args: Parameters<typeof jose.generateKeyPair>) => {
      if (args[0] === 'RS256') await gate.opened;
      return jose.generateKeyPair(...args);
    },
  };
}

/** A SAML verification worker that never answers anything, its start-up probe included (saml-verification-pool tests). */
export default function hangingWorker(): Promise<never> {
  return new Promise(() => undefined);
}

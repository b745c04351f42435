/**
 * A SAML verification worker that misbehaves when asked (tests of saml-verification-pool.ts):
 * `<hang/>` never answers, `<die/>` ends its worker thread mid-task, `<slow/>` answers after
 * 5 s (far longer than "at once" on a loaded machine); every other message goes to the real worker.
 */
import settleSamlVerification from '../../packages/server/src/connections/saml-verification-worker.ts';
import type { SamlVerificationTask } from '../../packages/server/src/connections/saml-message-verification.ts';

export default async function faultyWorker(task: SamlVerificationTask) {
  if (task.xml === '<hang/>') await new Promise(() => undefined);
  if (task.xml === '<die/>') process.exit(1);
  if (task.xml === '<slow/>') await new Promise((resolve) => setTimeout(resolve, 5_000));
  return settleSamlVerification(task);
}

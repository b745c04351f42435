/**
 * A SAML verification worker that misbehaves when asked (tests of saml-verification-pool.ts):
 * `<hang/>` never answers, `<die/>` ends its worker thread mid-task, `<slow/>` answers after
 * 300 ms; every other message goes to the real worker.
 */
import settleSamlVerification from '../../packages/server/src/connections/saml-verification-worker.ts';
import type { SamlVerificationTask } from '../../packages/server/src/connections/saml-message-verification.ts';

export default async function faultyWorker(task: SamlVerificationTask) {
  if (task.xml === '<hang/>') await new Promise(() => undefined);
  if (task.xml === '<die/>') process.exit(1);
  if (task.xml === '<slow/>') await new Promise((resolve) => setTimeout(resolve, 300));
  return settleSamlVerification(task);
}

/**
 * A worker thread of the SAML verification pool (saml-verification-pool.ts): verifies one
 * Response per task and posts back plain data. The XML modules load with the worker, before its
 * first task.
 */
import { settleSamlVerification } from './saml-message-verification.ts';

export default settleSamlVerification;

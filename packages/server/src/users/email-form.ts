const EMAIL_FORM = /^[^@\s]+@[^@\s]+$/;

/** Whether a unique id has the form of an e-mail address: the ids `caseInsensitiveEmail` folds to lower case (unique-id.ts). */
export const isEmailForm = (uniqueId: string): boolean => EMAIL_FORM.test(uniqueId);

import { ConcurrentChangeError } from '../errors.ts';
import type { NewRecord, Storage, StoredRecord } from './port.ts';

/** Rounds a read-modify-write may lose to other writers of the same record before it gives up. */
export const MAX_UPDATE_ATTEMPTS = 16;

/**
 * Read-modify-write of one record without a lock and without lost updates: `change` gets the
 * record as stored now and returns it as it should be; that is written only while the stored
 * payload is still the one `change` saw (Storage.replace `ifPayload`, compare-and-set). When
 * another request wrote in between, the record is read again and `change` runs again on what is
 * there now, so a disable, a relink or a redirect URI removal made meanwhile is built on, never
 * undone. `change` may run more than once; a refusal it throws ends the update, writing nothing;
 * returning `current` itself writes nothing either (there is nothing left to change).
 *
 * @param what the record in an error message ("Client lc_…").
 * @returns the record as written (or as it is, when `change` returned it), or undefined when
 *   there is none (absent, expired, or removed meanwhile: a write never brings back a removed record).
 * @throws ConcurrentChangeError (409) after MAX_UPDATE_ATTEMPTS rounds each lost to another
 *   writer; LookupTakenError (409) when another record of the kind holds the new `lookup`.
 */
export async function updateRecord<T>(
  storage: Storage,
  key: { kind: string; id: string; what: string },
  change: (current: StoredRecord<T>) => NewRecord<T> | Promise<NewRecord<T>>,
): Promise<NewRecord<T> | undefined> {
  for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
    const current = await storage.find<T>(key.kind, key.id);
    if (!current) return undefined;
    const next = await change(current);
    if (next === current || (await storage.replace(next, { ifPayload: current.payload }))) return next;
  }
  throw new ConcurrentChangeError(key.what, MAX_UPDATE_ATTEMPTS);
}

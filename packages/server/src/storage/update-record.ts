import { ConflictError } from '../errors.ts';
import type { NewRecord, Storage, StoredRecord } from './port.ts';

/** Rounds a read-modify-write may lose to other writers of the same record before it gives up. */
export const MAX_UPDATE_ATTEMPTS = 16;

/**
 * Read-modify-write of one record without a lock and without lost updates: `change` gets the
 * record as stored now and returns it as it should be; that is written only while the stored
 * payload is still the one `change` saw (Storage.replace `ifPayload`, compare-and-set). When
 * another request wrote in between, the record is read again and `change` runs again on what is
 * there now, so a disable, a relink or a redirect URI removal made meanwhile is built on, never
 * undone. `change` may run more than once; a refusal it throws ends the update, writing nothing.
 *
 * @returns the record as written, or undefined when there is none (absent, expired, or removed
 *   meanwhile: a write never brings back a removed record).
 * @throws ConflictError (409) after MAX_UPDATE_ATTEMPTS rounds each lost to another writer;
 *   LookupTakenError (409) when another record of the kind holds the new `lookup`.
 */
export async function updateRecord<T>(
  storage: Storage,
  kind: string,
  id: string,
  change: (current: StoredRecord<T>) => NewRecord<T> | Promise<NewRecord<T>>,
): Promise<NewRecord<T> | undefined> {
  for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
    const current = await storage.find<T>(kind, id);
    if (!current) return undefined;
    const next = await change(current);
    if (await storage.replace(next, { ifPayload: current.payload })) return next;
  }
  throw new ConflictError(
    `The ${kind} ${id.slice(0, 64)} was changed by ${MAX_UPDATE_ATTEMPTS} other requests while this one tried to change it; try again.`,
  );
}

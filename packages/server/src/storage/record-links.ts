import type { RecordKey, RecordLink, StoredRecord } from './port.ts';

/**
 * The keys of the records `record`'s payload names through `links` (Storage.consumeWithLinked), in
 * the order of the links: undefined where the payload field is absent, inherited or not a string
 * (an id that is not a string names nothing, on every backend).
 */
export function linkedKeys(record: StoredRecord, links: ReadonlyArray<RecordLink>): Array<RecordKey | undefined> {
  const payload = record.payload as Record<string, unknown>;
  return links.map(({ kind, idField }) => {
    const id = Object.hasOwn(payload, idField) ? payload[idField] : undefined;
    return typeof id === 'string' ? { kind, id } : undefined;
  });
}

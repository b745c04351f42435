/**
 * Imported first by the child process of `shifted-stack.ts`: replaces `Date` with one running
 * `offset` milliseconds ahead, so that the server (token lifetimes, session ends, SAML time
 * checks) lives on the same fake timeline as the browser's `page.clock`. Timers and
 * `performance.now()` are left alone: only wall-clock time moves.
 */
const NativeDate = Date;
let offset = 0;

function ShiftedDate(this: unknown, ...args: unknown[]): unknown {
  if (!new.target) return new NativeDate(NativeDate.now() + offset).toString();
  return args.length === 0 ? new NativeDate(NativeDate.now() + offset) : Reflect.construct(NativeDate, args, NativeDate);
}
ShiftedDate.prototype = NativeDate.prototype;
ShiftedDate.now = () => NativeDate.now() + offset;
ShiftedDate.parse = NativeDate.parse;
ShiftedDate.UTC = NativeDate.UTC;
globalThis.Date = ShiftedDate as unknown as DateConstructor;

export function advanceClock(ms: number): number {
  offset += ms;
  return offset;
}

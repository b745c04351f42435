/**
 * For a bench server (bench/servers/*.ts, forked by bench/lib/child.ts): exit when the bench
 * process that forked it goes away (its IPC channel closes), so a bench killed by a signal or a
 * timeout, or a script that exits without stopping its children, leaves no server running to
 * take CPU from later runs.
 */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(0));
}

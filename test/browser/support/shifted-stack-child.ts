// First: every later module must see the shifted Date.
import { advanceClock } from './server-clock.ts';
import { startDemoStack } from './demo-stack.ts';

type Command = { id: number; type: 'advance'; ms: number } | { id: number; type: 'close' };

const stack = await startDemoStack(JSON.parse(process.env.DEMO_STACK_OVERRIDES ?? '{}'));
process.send!({ type: 'ready', desktopUrl: stack.desktopUrl, legacyUrl: stack.legacyUrl, lanyardUrl: stack.lanyard.url });
process.on('message', (command: Command) => {
  if (command.type === 'advance') {
    process.send!({ id: command.id, offset: advanceClock(command.ms) });
  } else if (command.type === 'close') {
    void stack.close().finally(() => {
      process.send!({ id: command.id });
      process.exit(0);
    });
  }
});
// Never outlive the test run, even when it is killed.
process.on('disconnect', () => process.exit(0));

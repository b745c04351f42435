import type { Account, AppConfig, Connection } from '../api.ts';
import { h, type Child } from '../dom.ts';

/** What every section of the setup page sees: the account as last loaded. */
export interface AccountState {
  account: Account;
  connection: Connection | undefined;
  appConfig: AppConfig;
}

export interface PageContext {
  accountSid: string;
  /** Reloads the account and refreshes every section (after a change). */
  reload(): Promise<void>;
  /** Tells the audit section to fetch again (after a test sign-in). */
  refreshAudit(): void;
}

export interface Section {
  id: string;
  title: string;
  element: HTMLElement;
  update(state: AccountState): void;
}

/** A titled card; the heading is focusable so the page's "jump to" links can move focus to it. */
export function sectionCard(id: string, title: string, intro: Child, ...content: Child[]): HTMLElement {
  return h(
    'section',
    { class: 'card', id: `section-${id}`, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title`, tabindex: -1 }, title),
    intro ? h('p', { class: 'lead' }, intro) : null,
    ...content,
  );
}

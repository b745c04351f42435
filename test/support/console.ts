import type { Page } from 'playwright-core';

/** Signs `page` in to the console at `lanyardUrl` with an admin API key and waits for the accounts list. */
export async function signInToConsole(page: Page, lanyardUrl: string, adminKey: string): Promise<void> {
  await page.goto(`${lanyardUrl}/console/`);
  await page.getByLabel('Admin API key').fill(adminKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Accounts' }).waitFor();
}

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe } from 'vitest';
import { chromiumInstalled, chromiumPath } from './test-environment.ts';

/**
 * The system's Chromium driven by playwright-core: no browser is ever
 * downloaded. Screenshots go to test-results/screenshots (git-ignored), named
 * after the database project so the two runs do not overwrite each other.
 */
export const screenshotDirectory = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));

/** Tests that need a browser: skipped where none is installed (vitest.config.ts says so, and CI refuses to). */
export const describeInBrowser = describe.runIf(chromiumInstalled());

/** The browser, or undefined where none is installed (its tests are skipped there). */
export async function launchChromium(): Promise<Browser | undefined> {
  if (!chromiumInstalled()) return undefined;
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Saves a full-page screenshot as <project>-<name>.png and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDirectory, { recursive: true });
  const path = join(screenshotDirectory, `${process.env.TEST_DATABASE ?? 'pglite'}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Fills the labelled login form (dashboard or OAuth flow) and presses "Log in". */
export async function logInOnPage(page: Page, owner: { email: string; password: string }): Promise<void> {
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.getByLabel('Email').fill(owner.email);
  await page.getByLabel('Password').fill(owner.password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** The visible text of the page's main region, whitespace collapsed. */
export async function mainText(page: Page): Promise<string> {
  return ((await page.locator('main').textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

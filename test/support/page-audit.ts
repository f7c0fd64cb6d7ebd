import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { saveScreenshot } from './chromium.ts';

/**
 * What every page must pass, whatever its size: axe-core's WCAG 2 A and AA
 * rules with no violation, and no horizontal scrolling. axe-core runs inside
 * the page through the driver's own channel, which the page's
 * Content-Security-Policy does not govern, so the page is audited under the
 * policy it is served with.
 */

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The sizes every page is checked at: a laptop, and a phone. */
export const viewports = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

interface AxeViolation {
  id: string;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** axe-core's WCAG 2.x A/AA violations on the page as it is now. */
export async function accessibilityViolations(page: Page): Promise<AxeViolation[]> {
  // Expressions, not functions: they run in the page, which this project's compiler settings (no DOM types) do not describe.
  if (!(await page.evaluate("'axe' in window"))) await page.evaluate(await axeSource);
  return page.evaluate<AxeViolation[]>(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
    .then((result) => result.violations.map(({ id, help, nodes }) => ({ id, help, nodes: nodes.map(({ target, failureSummary }) => ({ target, failureSummary })) })))`);
}

/** How far the page is wider than the window (0 when nothing scrolls sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
}

/** The focused element's id, or its text when it has none. */
export async function focusedElement(page: Page): Promise<string> {
  return page.evaluate<string>("document.activeElement ? (document.activeElement.id || document.activeElement.textContent.trim()) : ''");
}

/**
 * Audits the page at its current size: no axe violation, no horizontal
 * overflow (also at 320 px, the narrowest phone, when the window is
 * phone-sized), and a screenshot saved as <name>-<size>.
 */
export async function auditPage(page: Page, name: string): Promise<void> {
  const size = page.viewportSize();
  const label = size && size.width < 600 ? 'phone' : 'desktop';
  expect(await accessibilityViolations(page), `axe-core on ${name} (${label})`).toEqual([]);
  expect(await horizontalOverflow(page), `horizontal overflow of ${name} (${label})`).toBeLessThanOrEqual(0);
  if (size && label === 'phone') {
    await page.setViewportSize({ width: 320, height: size.height });
    expect(await horizontalOverflow(page), `horizontal overflow of ${name} at 320 px`).toBeLessThanOrEqual(0);
    await page.setViewportSize(size);
  }
  await saveScreenshot(page, `${name}-${label}`);
}

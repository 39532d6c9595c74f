/**
 * Debian's Chromium, headless, driven by playwright-core: the flags the dashboard's acceptance
 * names, a fresh profile directory per launch (removed on close), a 1280×800 window.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = process.env.SGPODS_CHROMIUM ?? '/usr/bin/chromium';

export interface HeadlessChromium {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

export async function launchHeadlessChromium(): Promise<HeadlessChromium> {
  const profile = mkdtempSync(join(tmpdir(), 'sgpods-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      viewport: { width: 1280, height: 800 },
      timeout: 60_000,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      context,
      page,
      close: async () => {
        await context.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
}

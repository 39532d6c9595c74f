/**
 * `npx tsx scripts/screenshot-dashboard.ts <home> <out.png>`: the dashboard of a running sandbox
 * (after `sgpods demo`), in headless Chromium at 1280×800, with red's question in the explain
 * box — the picture in docs/ and the README.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchHeadlessChromium } from '../test/support/headless-chromium.js';

const [home, out = 'docs/dashboard.png'] = process.argv.slice(2);
if (!home) throw new Error('usage: screenshot-dashboard.ts <home> [out.png]');
const url = readFileSync(join(home, 'run', 'dashboard.url'), 'utf8').trim();
const browser = await launchHeadlessChromium();
try {
  const { page } = browser;
  await page.goto(url);
  const flow = '.flow-line[data-destination="rds/rds-eksworkshop"]';
  await page.locator(flow).first().waitFor({ state: 'attached', timeout: 20_000 });
  await page
    .getByRole('combobox', { name: 'source', exact: true })
    .fill('deploy/sg-per-pod/red-pod');
  await page
    .getByRole('combobox', { name: 'target[:port][/protocol]', exact: true })
    .fill('rds/rds-eksworkshop:5432');
  await page.getByRole('button', { name: 'Explain', exact: true }).click();
  await page.locator('[data-verdict]').waitFor();
  // Both arrows at once: wait until red's rejected and green's accepted flows are drawn.
  await page
    .locator(`${flow}[data-action="REJECT"]`)
    .first()
    .waitFor({ state: 'attached', timeout: 20_000 });
  await page
    .locator(`${flow}[data-action="ACCEPT"]`)
    .first()
    .waitFor({ state: 'attached', timeout: 20_000 });
  await page.screenshot({ path: out, fullPage: process.env.FULL_PAGE === '1' });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
}

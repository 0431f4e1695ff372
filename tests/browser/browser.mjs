// Browser tests' shared helpers: Debian's chromium driven by playwright-core (pinned in
// package-lock.json; it downloads no browser). Screenshots go to tests/artifacts/browser/.
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT } from '../e2e/helpers.mjs';

export const ARTIFACTS = path.join(REPO_ROOT, 'tests', 'artifacts', 'browser');

const CANDIDATES = [process.env.SLUICE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
export const CHROMIUM = CANDIDATES.find((p) => existsSync(p));

/** Launches headless chromium (throws with a clear message when it is not installed). */
export async function launch() {
  if (!CHROMIUM) throw new Error(`no chromium found (tried ${CANDIDATES.join(', ')}); install Debian's chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** Saves a full-page screenshot as tests/artifacts/browser/<name>.png. */
export async function shot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

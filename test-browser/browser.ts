// Debian's chromium driven by playwright-core: never a downloaded browser (the download fails
// here, and CI installs chromium with apt-get). A fresh profile for each launch.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
export const SCREENSHOTS = new URL('../docs/screenshots/', import.meta.url)

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

interface Teardown { teardown: (fn: () => unknown) => void }

/** A browser context on a fresh user-data-dir, closed (and removed) at the end of the test. */
export async function launch (t: Teardown): Promise<BrowserContext> {
  const profile = mkdtempSync(path.join(tmpdir(), 'twofold-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: ARGS, headless: true, viewport: { width: 900, height: 900 }, locale: 'en-GB', timezoneId: 'UTC'
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context
}

/** A page that fails the test on any CSP violation or uncaught error it logs. */
export async function openPage (context: BrowserContext, problems: string[]): Promise<Page> {
  const page = await context.newPage()
  // An answer like 401 or 429 is logged as a failed resource: expected here, not a problem.
  page.on('console', (message) => { if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(message.text()) })
  page.on('pageerror', (error) => problems.push(error.message))
  return page
}

export async function screenshot (page: Page, name: string) {
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true })
}

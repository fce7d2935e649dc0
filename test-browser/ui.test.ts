import { createServer, type Server } from 'node:http'
import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import t, { type Test } from 'tap'
import * as OTPAuth from 'otpauth'
import type { Page } from 'playwright-core'
import { UI_ROOT } from '../src/plugins/ui.js'
import { buildTestApp, createTestDatabase, testConfig, TestClock } from '../test/helper.js'
import { createTfaUser, DEFAULT_PASSWORD, randomPhone, randomUsername, STEP_MS } from '../test/flows.js'
import { startSmsReceiver } from '../test/sms-receiver.js'
import { launch, openPage, screenshot } from './browser.js'

// At most one SMS a minute (as in test/flows.ts).
const SMS_INTERVAL_MS = 60_000
const codeAt = (secret: string, ms: number) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: ms })

async function listen (server: Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A second origin serving the same built UI, pointed (by its meta tag) at the API elsewhere. */
function frontendServer (apiOrigin: () => string): Server {
  return createServer((request, response) => {
    const file = (request.url ?? '/').replace(/^\/ui\//, '').split('?')[0] || 'index.html'
    readFile(path.join(UI_ROOT, path.normalize(file).replace(/^(\.\.[/\\])+/, ''))).then((body) => {
      const html = file.endsWith('.html')
      response.writeHead(200, { 'content-type': html ? 'text/html' : file.endsWith('.css') ? 'text/css' : 'text/javascript' })
      response.end(html ? body.toString().replace('name="twofold-api" content=""', `name="twofold-api" content="${apiOrigin()}"`) : body)
    }, () => { response.writeHead(404).end() })
  })
}

async function signIn (page: Page, username: string, password: string) {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}
const securityHeading = (page: Page) => page.getByRole('heading', { level: 1, name: /^Security for / })
const codeInput = (page: Page) => page.getByLabel('Code', { exact: true })

async function signOut (t: Test, page: Page) {
  await page.getByRole('navigation').getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor()
  t.pass('signed out')
}

t.test('the reference UI in headless Chromium', async (t) => {
  const clock = new TestClock()
  const frontend = frontendServer(() => api)
  t.teardown(() => { frontend.close() })
  const frontendOrigin = await listen(frontend)
  const app = await buildTestApp(t, testConfig({
    DATABASE_URL: await createTestDatabase(t),
    CORS_ORIGINS: frontendOrigin,
    CORS_CREDENTIALS: 'true',
    TFA_MAX_FAILURES: '3',
    UI_ENABLED: 'true'
  }), { now: clock.now })
  const api = await app.listen({ port: 0, host: '127.0.0.1' })
  const problems: string[] = []
  const context = await launch(t)
  const page = await openPage(context, problems)
  const ui = `${api}/ui/`

  const served = await page.goto(ui)
  t.match(served?.headers()['content-security-policy'], /script-src 'self'/, 'a strict CSP on /ui/')
  t.notMatch(await page.content(), /<script>(?!<\/script>)/, 'no inline script')
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor()
  await screenshot(page, 'sign-in')

  // Register, then straight to enrolment.
  const username = randomUsername()
  await page.getByRole('link', { name: 'Create an account' }).click()
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(DEFAULT_PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByRole('heading', { level: 1, name: 'Set up two-factor' }).waitFor()
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByRole('img', { name: /QR code/ }).waitFor()
  await page.getByText('Unable to scan?').click()
  const secret = (await page.getByTestId('secret').innerText()).replace(/\s+/g, '')
  t.match(secret, /^[A-Z2-7]{16,}$/, 'the secret, read from the page')
  t.equal(await page.getByRole('button', { name: 'Copy' }).isVisible(), true, 'with a copy button')
  await screenshot(page, 'enrol')
  // A wrong first code: the hint to scan again.
  await page.getByLabel('The 6-digit code the app shows').fill(String((Number(codeAt(secret, clock.now())) + 500_000) % 1_000_000).padStart(6, '0'))
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()
  await page.getByText(/Invalid token\. .*scan the QR code again/).waitFor()
  t.pass('Invalid token. with the hint')
  await page.getByLabel('The 6-digit code the app shows').fill(codeAt(secret, clock.now()))
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()
  await page.getByTestId('recovery-codes').waitFor()
  const codes = (await page.getByTestId('recovery-codes').locator('li').allInnerTexts()).map(c => c.trim())
  t.equal(codes.length, 10, 'ten recovery codes shown')
  t.ok(await page.getByRole('link', { name: 'Download' }).getAttribute('download'), 'downloadable')
  t.ok(await page.getByRole('button', { name: 'Print' }).isVisible(), 'printable')
  await screenshot(page, 'recovery-codes')
  await page.getByRole('button', { name: 'I have saved them' }).click()
  await securityHeading(page).waitFor()
  t.equal(await page.getByTestId('device-name').innerText(), 'unnamed', 'a blank device name is "unnamed"')
  await signOut(t, page)

  // The code in the extra field, by keyboard alone.
  clock.advance(STEP_MS)
  await page.getByLabel('Username').focus()
  await page.keyboard.type(username)
  await page.keyboard.press('Tab')
  await page.keyboard.type(DEFAULT_PASSWORD)
  await page.keyboard.press('Enter')
  await page.getByText('Open your authenticator app').waitFor()
  t.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not kept')
  t.notOk(await page.getByLabel('Recovery code').isVisible(), 'the recovery code field waits for its link')
  t.equal(await codeInput(page).getAttribute('autocomplete'), 'one-time-code')
  t.equal(await codeInput(page).getAttribute('inputmode'), 'numeric')
  t.equal(await page.evaluate('document.activeElement.autocomplete'), 'one-time-code', 'the code field has the focus')
  await screenshot(page, 'sign-in-code')
  await page.keyboard.type(codeAt(secret, clock.now()))
  await page.keyboard.press('Enter')
  await securityHeading(page).waitFor()
  t.same(await page.evaluate('[localStorage.length, sessionStorage.length, document.cookie]'), [0, 0, ''], 'no token a script can read')
  await page.reload()
  await securityHeading(page).waitFor()
  t.pass('a reload does not ask for the code again')
  await signOut(t, page)

  // The code appended to the password.
  clock.advance(STEP_MS)
  await signIn(page, username, DEFAULT_PASSWORD + codeAt(secret, clock.now()))
  await securityHeading(page).waitFor()
  t.pass('code appended to the password')
  await signOut(t, page)

  // A wrong password, then a wrong code, then the right one: worded differently.
  await signIn(page, username, 'not the password')
  await page.getByText('Wrong username or password.').waitFor()
  t.pass('wrong password')
  await page.getByLabel('Password').fill(DEFAULT_PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  clock.advance(STEP_MS)
  await codeInput(page).fill(String((Number(codeAt(secret, clock.now())) + 500_000) % 1_000_000).padStart(6, '0'))
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByText('That code is wrong or was already used').waitFor()
  t.pass('wrong code, worded as such')
  await screenshot(page, 'sign-in-wrong-code')
  await codeInput(page).fill(codeAt(secret, clock.now()))
  await page.getByRole('button', { name: 'Sign in' }).click()
  await securityHeading(page).waitFor()
  await signOut(t, page)

  // Restart login, then a recovery code.
  await signIn(page, username, DEFAULT_PASSWORD)
  await page.getByRole('button', { name: 'Restart login' }).click()
  await page.getByLabel('Password').waitFor({ state: 'visible' })
  t.pass('restart goes back to the password')
  await signIn(page, username, DEFAULT_PASSWORD)
  await page.getByRole('button', { name: 'Use a recovery code' }).click()
  await page.getByLabel('Recovery code').fill(codes[0]!)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await securityHeading(page).waitFor()
  t.pass('a recovery code signs in')
  await signOut(t, page)

  // Remember this device, then the password alone.
  clock.advance(STEP_MS)
  await signIn(page, username, DEFAULT_PASSWORD)
  await codeInput(page).fill(codeAt(secret, clock.now()))
  await page.getByLabel('Remember this device').check()
  await page.getByRole('button', { name: 'Sign in' }).click()
  await securityHeading(page).waitFor()
  await signOut(t, page)
  await signIn(page, username, DEFAULT_PASSWORD)
  await securityHeading(page).waitFor()
  t.pass('a remembered device signs in without a code')
  t.equal(await page.getByTestId('trusted-devices').locator('li').count(), 1, 'listed under remembered devices')

  // The second factor's settings: rename the device, new recovery codes, the protected actions.
  await page.getByLabel('Device name').fill('Laptop key')
  await page.getByRole('button', { name: 'Rename' }).click()
  await page.getByTestId('device-name').getByText('Laptop key').waitFor()
  t.pass('device renamed')
  clock.advance(STEP_MS)
  const codeFor = (button: string) => page.getByRole('button', { name: button }).locator('xpath=ancestor::form').getByLabel('Code', { exact: true })
  await codeFor('Make new recovery codes').fill(codeAt(secret, clock.now()))
  await page.getByRole('button', { name: 'Make new recovery codes' }).click()
  await page.getByTestId('recovery-codes').waitFor()
  const fresh = (await page.getByTestId('recovery-codes').locator('li').allInnerTexts()).map(c => c.trim())
  t.ok(fresh.length === 10 && !fresh.includes(codes[1]!), 'ten new recovery codes')
  await page.getByRole('button', { name: 'I have saved them' }).click()
  await securityHeading(page).waitFor()
  clock.advance(STEP_MS)
  await page.getByLabel('Changing the password').uncheck()
  await codeFor('Save').fill(codeAt(secret, clock.now()))
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByText('Saved.').waitFor()
  t.pass('password change no longer asks for a code')

  // A second browser signs in; this one ends it.
  const other = await openPage(await launch(t), problems)
  clock.advance(STEP_MS)
  await other.goto(ui)
  await signIn(other, username, DEFAULT_PASSWORD)
  await codeInput(other).fill(codeAt(secret, clock.now()))
  await other.getByRole('button', { name: 'Sign in' }).click()
  await securityHeading(other).waitFor()
  await page.reload()
  await securityHeading(page).waitFor()
  t.equal(await page.getByTestId('sessions').locator('li').count(), 2, 'two sessions')
  t.equal(await page.getByTestId('sessions').locator('li[data-current=true]').getByText('This device').count(), 1, 'this one marked')
  await screenshot(page, 'security')
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click()
  await page.getByTestId('sessions').locator('li').nth(1).waitFor({ state: 'detached' })
  t.equal(await page.getByTestId('sessions').locator('li').count(), 1, 'only this one left')
  await other.reload()
  await other.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor()
  t.pass('the other browser is signed out')

  // Turn two-factor off with a code.
  clock.advance(STEP_MS)
  await page.getByRole('button', { name: 'Turn off two-factor' }).locator('xpath=ancestor::form').getByLabel('Code', { exact: true }).fill(codeAt(secret, clock.now()))
  await page.getByRole('button', { name: 'Turn off two-factor' }).click()
  await page.getByTestId('tfa-state').getByText('Off').waitFor()
  t.pass('two-factor turned off')
  await page.getByRole('link', { name: 'Set up two-factor' }).waitFor()

  // A password change (no code now that TFA is off): the old password stops working.
  await page.getByLabel('Current password').fill(DEFAULT_PASSWORD)
  await page.getByLabel('New password').fill('a brand new passphrase')
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.getByText('Password changed.').waitFor()
  await signOut(t, page)
  await signIn(page, username, DEFAULT_PASSWORD)
  await page.getByText('Wrong username or password.').waitFor()
  await page.getByLabel('Password').fill('a brand new passphrase')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await securityHeading(page).waitFor()
  t.pass('signed in with the new password, without a code')

  // The lockout: the wait from Retry-After, counting down.
  const locked = await createTfaUser(app, clock)
  const third = await openPage(await launch(t), problems)
  await third.goto(ui)
  await signIn(third, locked.username, DEFAULT_PASSWORD)
  for (let i = 0; i < 5; i++) {
    await codeInput(third).fill(String((Number(locked.code()) + 500_000) % 1_000_000).padStart(6, '0'))
    const [answer] = await Promise.all([third.waitForResponse(r => r.url().endsWith('/login/tfa')), third.getByRole('button', { name: 'Sign in' }).click()])
    if (answer.status() === 429) break
    await third.getByText('That code is wrong or was already used').waitFor()
  }
  await third.getByText(/locked for now/).waitFor()
  const first = await third.getByText(/locked for now\. Try again in (\d+ min )?\d+ s\./).innerText()
  t.ok(await third.getByRole('button', { name: 'Sign in' }).isDisabled(), 'the button waits')
  await screenshot(third, 'lockout')
  await third.waitForTimeout(2100)
  const later = await third.getByText(/locked for now\. Try again in (\d+ min )?\d+ s\./).innerText()
  const seconds = (s: string) => { const m = /in (?:(\d+) min )?(\d+) s/.exec(s); return Number(m?.[1] ?? 0) * 60 + Number(m?.[2]) }
  t.ok(seconds(later) < seconds(first) && seconds(first) <= 900, `counts down (${seconds(first)} → ${seconds(later)})`)

  // The same UI on a second origin, calling the API through CORS.
  const remote = await openPage(await launch(t), problems)
  await remote.goto(`${frontendOrigin}/ui/`)
  clock.advance(STEP_MS)
  const corsUser = await createTfaUser(app, clock)
  await signIn(remote, corsUser.username, DEFAULT_PASSWORD)
  await remote.getByText('Open your authenticator app').waitFor()
  t.pass('the 401 headers are readable across origins')
  await codeInput(remote).fill(corsUser.code())
  await remote.getByRole('button', { name: 'Sign in' }).click()
  await securityHeading(remote).waitFor()
  await remote.reload()
  await securityHeading(remote).waitFor()
  t.pass('signed in from another origin, and the session survives a reload')

  t.same(problems, [], 'no CSP violation or script error in any page')
})

t.test('mandatory TFA: an enrolment-only login goes straight to enrolment', async (t) => {
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), TFA_REQUIRED: 'true', UI_ENABLED: 'true' }))
  const api = await app.listen({ port: 0, host: '127.0.0.1' })
  const problems: string[] = []
  const page = await openPage(await launch(t), problems)
  await page.goto(`${api}/ui/#/register`)
  const username = randomUsername()
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(DEFAULT_PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByText('Two-factor authentication is mandatory on this service').waitFor()
  await screenshot(page, 'mandatory-tfa')
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByText('Unable to scan?').click()
  const secret = (await page.getByTestId('secret').innerText()).replace(/\s+/g, '')
  await page.getByLabel('The 6-digit code the app shows').fill(codeAt(secret, Date.now()))
  await page.getByLabel('Device name (optional)').fill('Work phone')
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()
  await page.getByRole('button', { name: 'I have saved them' }).click()
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor()
  t.pass('then a real sign-in, with the code')
  await signIn(page, username, DEFAULT_PASSWORD + codeAt(secret, Date.now() + 30_000))
  await securityHeading(page).waitFor()
  t.equal(await page.getByTestId('device-name').innerText(), 'Work phone')
  t.same(problems, [])
})

t.test('SMS: enrol with a phone number, then sign in with the code sent', async (t) => {
  const receiver = await startSmsReceiver(t)
  const clock = new TestClock()
  const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), UI_ENABLED: 'true', ...receiver.env }), { now: clock.now })
  const api = await app.listen({ port: 0, host: '127.0.0.1' })
  const problems: string[] = []
  const page = await openPage(await launch(t), problems)
  await page.goto(`${api}/ui/#/register`)
  const username = randomUsername()
  const phone = randomPhone()
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(DEFAULT_PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByLabel('A text message (SMS) to my phone').check()
  await page.getByRole('button', { name: 'Continue' }).click()
  t.equal(await page.getByLabel('Mobile number').getAttribute('autocomplete'), 'tel')
  await page.getByLabel('Mobile number').fill(phone)
  await page.getByRole('button', { name: 'Send me a code' }).click()
  await page.getByLabel('The code we sent to your phone').waitFor()
  await page.getByLabel('The code we sent to your phone').fill(receiver.lastCode(phone))
  await page.getByRole('button', { name: 'Turn on two-factor' }).click()
  await page.getByTestId('recovery-codes').waitFor()
  await page.getByRole('button', { name: 'I have saved them' }).click()
  await securityHeading(page).waitFor()
  t.match(await page.getByText(/^SMS to \+/).innerText(), /•/, 'the masked number')
  await page.getByRole('link', { name: 'Set up two-factor' }).count().then(n => t.equal(n, 0))
  await page.goto(`${api}/ui/#/enrol`)
  await page.getByText('turn the current one off first').waitFor()
  t.pass('enrol says to turn the current factor off first')
  await page.goto(`${api}/ui/#/security`)
  await securityHeading(page).waitFor()
  await signOut(t, page)

  clock.advance(SMS_INTERVAL_MS)
  const sent = receiver.to(phone).length
  await signIn(page, username, DEFAULT_PASSWORD)
  await page.getByText('We sent a code to your phone').waitFor()
  t.equal(receiver.to(phone).length, sent + 1, 'the right password sent a code')
  await codeInput(page).fill(receiver.lastCode(phone))
  await page.getByRole('button', { name: 'Sign in' }).click()
  await securityHeading(page).waitFor()
  t.pass('signed in with the SMS code')
  t.same(problems, [])
})

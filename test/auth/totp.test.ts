import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { Secret, TOTP } from 'otpauth'
import { buildOtpauthUrl, generateTotpCode, generateTotpSecret, matchTotpStep, timeStep } from '../../src/auth/totp.js'
import { buildTestApp, TestClock } from '../helper.js'
import { amrOf, bearer, login, plainUser, STEP_MS } from '../flows.js'

// RFC 6238 Appendix B: the seeds are ASCII digits, of 20, 32 and 64 bytes for SHA1/256/512.
const SEEDS = {
  SHA1: '12345678901234567890',
  SHA256: '12345678901234567890123456789012',
  SHA512: '1234567890123456789012345678901234567890123456789012345678901234'
} as const

const VECTORS: Array<{ time: number, SHA1: string, SHA256: string, SHA512: string }> = [
  { time: 59, SHA1: '94287082', SHA256: '46119246', SHA512: '90693936' },
  { time: 1111111109, SHA1: '07081804', SHA256: '68084774', SHA512: '25091201' },
  { time: 1111111111, SHA1: '14050471', SHA256: '67062674', SHA512: '99943326' },
  { time: 1234567890, SHA1: '89005924', SHA256: '91819424', SHA512: '93441116' },
  { time: 2000000000, SHA1: '69279037', SHA256: '90698825', SHA512: '38618901' },
  { time: 20000000000, SHA1: '65353130', SHA256: '77737706', SHA512: '47863826' }
]

// base32 of the SHA1 seed, the form src/auth/totp.ts takes.
const SHA1_SEED_BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'

t.test('RFC 6238 Appendix B: all 18 vectors through otpauth (8 digits)', async (t) => {
  let checked = 0
  for (const vector of VECTORS) {
    for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
      const code = TOTP.generate({
        secret: Secret.fromLatin1(SEEDS[algorithm]),
        algorithm,
        digits: 8,
        period: 30,
        timestamp: vector.time * 1000
      })
      t.equal(code, vector[algorithm], `${algorithm} T=${vector.time}`)
      checked++
    }
  }
  t.equal(checked, 18)
})

t.test('the base32 seed used below is the RFC SHA1 seed', async (t) => {
  t.equal(Secret.fromBase32(SHA1_SEED_BASE32).latin1, SEEDS.SHA1)
})

t.test('RFC 6238 SHA1 vectors through our matchTotpStep (6 digits = last 6 of 8)', async (t) => {
  for (const vector of VECTORS) {
    const six = vector.SHA1.slice(-6)
    const expectedStep = Math.floor(vector.time / 30)
    t.equal(matchTotpStep(SHA1_SEED_BASE32, six, vector.time * 1000, 0), expectedStep, `T=${vector.time} window 0`)
    t.equal(matchTotpStep(SHA1_SEED_BASE32, six, vector.time * 1000, 1), expectedStep, `T=${vector.time} window 1`)
    t.equal(generateTotpCode(SHA1_SEED_BASE32, vector.time * 1000), six, `generateTotpCode T=${vector.time}`)
    t.equal(timeStep(vector.time * 1000), expectedStep)
    // The 8-digit form is not what we accept: six digits exactly.
    t.equal(matchTotpStep(SHA1_SEED_BASE32, vector.SHA1, vector.time * 1000, 1), null, `8 digits refused T=${vector.time}`)
  }
})

t.test('window handling', async (t) => {
  const now = 1111111111 * 1000
  const step = Math.floor(now / STEP_MS)
  const at = (offsetSteps: number) => generateTotpCode(SHA1_SEED_BASE32, now + offsetSteps * STEP_MS)
  // The five codes around `now` are distinct for this seed, so every refusal below is meaningful.
  const codes = [-2, -1, 0, 1, 2].map(at)
  t.equal(new Set(codes).size, 5, 'codes of neighbouring steps differ')

  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(0), now, 1), step, 'current step')
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(-1), now, 1), step - 1, 'one step before, window 1')
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(1), now, 1), step + 1, 'one step after, window 1')
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(-2), now, 1), null, 'two steps before refused')
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(2), now, 1), null, 'two steps after refused')

  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(0), now, 0), step, 'window 0: exact step accepted')
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(-1), now, 0), null, 'window 0: step before refused')
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(1), now, 0), null, 'window 0: step after refused')

  // Step boundaries: the last millisecond of a step still belongs to it.
  const startOfStep = step * STEP_MS
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(0), startOfStep, 0), step)
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(0), startOfStep + STEP_MS - 1, 0), step)
  t.equal(matchTotpStep(SHA1_SEED_BASE32, at(0), startOfStep + STEP_MS, 0), null)
})

t.test('non-digit and wrongly sized codes are refused', async (t) => {
  const now = 59 * 1000
  const code = generateTotpCode(SHA1_SEED_BASE32, now)
  t.equal(matchTotpStep(SHA1_SEED_BASE32, code, now, 1), Math.floor(59 / 30), 'the real code matches')
  const fullWidth = [...code].map(d => String.fromCharCode(0xff10 + Number(d))).join('')
  for (const bad of [
    '', 'abcdef', `${code.slice(0, 5)}a`, code.slice(0, 5), `${code}0`, ` ${code}`, `${code} `, `${code}\n`,
    `${code.slice(0, 3)} ${code.slice(3)}`, `+${code.slice(1)}`, `-${code.slice(1)}`, `${code.slice(0, 5)}.`, fullWidth,
    `0x${code.slice(2)}`, '１２３４５６'
  ]) {
    t.equal(matchTotpStep(SHA1_SEED_BASE32, bad, now, 1), null, `refused: ${JSON.stringify(bad)}`)
  }
})

t.test('generateTotpSecret: 32 base32 characters, no padding, 160 random bits', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 50; i++) {
    const secret = generateTotpSecret()
    t.match(secret, /^[A-Z2-7]{32}$/, 'base32 alphabet, 32 characters, no "="')
    t.equal(Secret.fromBase32(secret).bytes.length, 20, '20 bytes = 160 bits')
    seen.add(secret)
  }
  t.equal(seen.size, 50, 'every secret is fresh')
})

t.test('buildOtpauthUrl has the documented form', async (t) => {
  t.equal(
    buildOtpauthUrl('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'twofold', 'alice'),
    'otpauth://totp/twofold:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=twofold&algorithm=SHA1&digits=6&period=30'
  )
  // Issuer and username are percent-encoded in the label, the issuer also in its parameter.
  t.equal(
    buildOtpauthUrl('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'Acme Corp', 'a.b@example.com'),
    'otpauth://totp/Acme%20Corp:a.b%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30'
  )
  // And it parses back to the same parameters (what an authenticator app reads).
  const parsed = new URL(buildOtpauthUrl('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'Acme & Co', 'bob'))
  t.equal(parsed.protocol, 'otpauth:')
  t.equal(parsed.searchParams.get('issuer'), 'Acme & Co')
  t.equal(parsed.searchParams.get('secret'), 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')
})

t.test('interop with oathtool: RFC vectors (8 digits, SHA1/SHA256/SHA512)', async (t) => {
  for (const vector of VECTORS) {
    for (const algorithm of ['SHA1', 'SHA256', 'SHA512'] as const) {
      const mode = algorithm === 'SHA1' ? '--totp' : `--totp=${algorithm.toLowerCase()}`
      const hexSeed = Buffer.from(SEEDS[algorithm], 'latin1').toString('hex')
      const out = execFileSync('oathtool', [mode, '-d', '8', '-N', `@${vector.time}`, hexSeed], { encoding: 'utf8' }).trim()
      t.equal(out, vector[algorithm], `oathtool ${algorithm} T=${vector.time}`)
    }
  }
})

t.test('interop with oathtool: a secret from /tfa/enable validates and logs in', async (t) => {
  // oathtool reads the real clock, so the service's clock starts at real time.
  const clock = new TestClock(Date.now())
  const app = await buildTestApp(t, undefined, { now: clock.now })
  const { username, password, token } = await plainUser(app)
  const enable = await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token) })
  t.equal(enable.statusCode, 200)
  const { secret } = enable.json() as { secret: string }

  const validatingCode = execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim()
  t.match(validatingCode, /^[0-9]{6}$/)
  const validate = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(token), payload: { totp: validatingCode } })
  t.equal(validate.statusCode, 200, validate.body)
  t.equal(validate.json().enabled, true)

  // The activating code is used; the next login takes oathtool's code for a later step. If the
  // real clock crossed a step boundary since the TestClock was set, the activating code already
  // belonged to the next step: move one step further so the login code is newer still.
  const extraStep = timeStep(Date.now()) > timeStep(clock.ms) ? STEP_MS : 0
  clock.advance(STEP_MS + extraStep)
  const loginAt = Math.floor(clock.ms / 1000)
  const loginCode = execFileSync('oathtool', ['--totp', '-b', '-N', `@${loginAt}`, secret], { encoding: 'utf8' }).trim()
  t.equal(loginCode, generateTotpCode(secret, clock.ms), 'oathtool and the service agree on the code')
  const res = await login(app, { username, password, totp: loginCode })
  t.equal(res.statusCode, 200, res.body)
  t.same(amrOf(app, res), ['pwd', 'otp', 'mfa'])
})

t.test('the QR code decodes (zbarimg) to exactly the otpauth URL', async (t) => {
  const app = await buildTestApp(t)
  const { username, token } = await plainUser(app)
  const enable = await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token) })
  t.equal(enable.statusCode, 200)
  const body = enable.json() as { secret: string, otpauth_url: string, qr_code: string }
  t.equal(body.otpauth_url, buildOtpauthUrl(body.secret, 'twofold', username))

  const prefix = 'data:image/png;base64,'
  t.ok(body.qr_code.startsWith(prefix), 'a PNG data URL')
  const png = Buffer.from(body.qr_code.slice(prefix.length), 'base64')
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature')

  const dir = mkdtempSync(path.join(tmpdir(), 'twofold-qr-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'qr.png')
  writeFileSync(file, png)
  const decoded = execFileSync('zbarimg', ['--nodbus', '--raw', '-q', file], { encoding: 'utf8' })
  t.equal(decoded.replace(/\n$/, ''), body.otpauth_url)
})

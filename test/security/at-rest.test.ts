import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createSecretBox } from '../../src/auth/secret-box.js'
import { generateTotpCode } from '../../src/auth/totp.js'
import { buildTestApp, createTestDatabase, sharedEnv, TestClock, testConfig } from '../helper.js'
import { bearer, createTfaUser, login, plainUser, STEP_MS } from '../flows.js'

const clock = new TestClock()
const databaseUrl = await createTestDatabase(t)
const env = sharedEnv(databaseUrl, { TOTP_ENCRYPTION_KEY_ID: 'k7' })
const config = testConfig(env)
const app = await buildTestApp(t, config, { now: clock.now })

const dump = () => execFileSync('pg_dump', ['--data-only', databaseUrl], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })

/** Every form of a secret or code someone could type back in, that `text` contains. */
function found (text: string, secret: string, recoveryCodes: string[]): string[] {
  const needles = [
    secret, secret.toLowerCase(), secret.slice(0, 16), // even half the secret would be a leak
    ...recoveryCodes.flatMap(c => [c, c.replace(/-/g, ''), c.toUpperCase(), c.toUpperCase().replace(/-/g, '')])
  ]
  return needles.filter(n => text.includes(n))
}

t.test('neither the TOTP secret nor any recovery code is in the database in clear', async (t) => {
  const { username, password, token } = await plainUser(app)
  const enable = await app.inject({ method: 'POST', url: '/tfa/enable', headers: bearer(token) })
  const { secret } = enable.json() as { secret: string }

  const pendingDump = dump()
  t.ok(pendingDump.includes('two_factor'), 'the dump has the two_factor table')
  t.same(found(pendingDump, secret, []), [], 'pending secret not in clear')

  const validate = await app.inject({ method: 'POST', url: '/tfa/validate', headers: bearer(token), payload: { totp: generateTotpCode(secret, clock.now()) } })
  t.equal(validate.statusCode, 200)
  const { recovery_codes: codes } = validate.json() as { recovery_codes: string[] }
  clock.advance(STEP_MS)
  const regen = await app.inject({ method: 'POST', url: '/tfa/recovery-codes', headers: bearer(token), payload: { totp: generateTotpCode(secret, clock.now()) } })
  t.equal(regen.statusCode, 200)
  const { recovery_codes: fresh } = regen.json() as { recovery_codes: string[] }
  // One recovery code used, so a used row is in the dump as well.
  t.equal((await login(app, { username, password, recovery_code: fresh[0]! })).statusCode, 200)

  const enabledDump = dump()
  t.ok(enabledDump.includes('recovery_codes'), 'the dump has the recovery_codes table')
  t.same(found(enabledDump, secret, [...codes, ...fresh]), [], 'no secret, no recovery code in the dump')
  // The recovery codes are there, as SHA-256 hashes only.
  const rows = await app.prisma.recoveryCode.findMany({ select: { codeHash: true } })
  t.ok(rows.length >= 10)
  for (const row of rows) t.match(row.codeHash, /^[0-9a-f]{64}$/)
})

t.test('the stored secret decrypts only with the right key and user, and its key id is stored', async (t) => {
  const user = await createTfaUser(app, clock)
  const row = await app.prisma.twoFactor.findUniqueOrThrow({ where: { userId: user.id } })
  t.equal(row.secretKeyId, 'k7', 'the key id of TOTP_ENCRYPTION_KEY_ID')
  t.equal(row.pendingSecretEnc, null, 'no pending copy left behind')
  t.type(row.secretEnc, 'string')
  const sealed = { ciphertext: row.secretEnc!, keyId: row.secretKeyId! }
  t.notOk(sealed.ciphertext.includes(user.secret))
  t.notOk(Buffer.from(sealed.ciphertext, 'base64').toString('latin1').includes(user.secret), 'not merely base64-encoded')

  const rightKey = config.tfa.encryptionKey!
  const box = createSecretBox(rightKey, new Map([[rightKey.id, rightKey.key]]))
  t.equal(box.open(sealed, user.id), user.secret, 'decrypts with the right key')

  const wrongKey = { id: 'k7', key: randomBytes(32) }
  t.throws(() => createSecretBox(wrongKey, new Map([[wrongKey.id, wrongKey.key]])).open(sealed, user.id), 'a wrong key fails authentication')
  t.throws(() => box.open(sealed, '00000000-0000-0000-0000-000000000000'), "another user's id (the AAD) fails")
  t.throws(() => box.open({ ...sealed, keyId: 'k1' }, user.id), /No decryption key with id k1/, 'an unknown key id')
  const tampered = Buffer.from(sealed.ciphertext, 'base64')
  tampered[tampered.length - 1]! ^= 1
  t.throws(() => box.open({ ...sealed, ciphertext: tampered.toString('base64') }, user.id), 'a flipped bit fails')

  // Each seal has its own IV: the same secret never gives the same ciphertext twice.
  t.not(box.seal(user.secret, user.id).ciphertext, box.seal(user.secret, user.id).ciphertext)
})

t.test('the stored key id lets the key rotate: a new active key, the old one for decryption', async (t) => {
  const user = await createTfaUser(app, clock)
  const rotated = testConfig({
    ...env,
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    TOTP_ENCRYPTION_KEY_ID: 'k8',
    TOTP_DECRYPTION_KEYS: `k7:${env.TOTP_ENCRYPTION_KEY}`
  })
  const next = await buildTestApp(t, rotated, { now: clock.now })
  const res = await login(next, { username: user.username, password: user.password, totp: user.code() })
  t.equal(res.statusCode, 200, 'a secret sealed with k7 still opens after rotation')

  // A secret enrolled after the rotation is sealed with k8.
  const fresh = await createTfaUser(next, clock)
  const row = await next.prisma.twoFactor.findUniqueOrThrow({ where: { userId: fresh.id } })
  t.equal(row.secretKeyId, 'k8')
})

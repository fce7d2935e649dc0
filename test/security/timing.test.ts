import t from 'tap'
import { buildTestApp, createTestDatabase, TestClock, testConfig } from '../helper.js'
import { createTfaUser, INVALID_CREDENTIALS_BODY, login, plainUser, randomUsername } from '../flows.js'

// A failed login must cost the same whatever the username: otherwise its time tells whether the
// user exists and has TFA on. The worst case is a wrong password ending in six digits, which a
// user with TFA checks twice (split off as a code, then whole). bcrypt's cost is high enough here
// that hashing dominates a request; the kinds of username are interleaved so that the machine's
// load drifts over all of them alike, and medians are compared (a difference, not a speed).
const clock = new TestClock()
const app = await buildTestApp(t, testConfig({ DATABASE_URL: await createTestDatabase(t), BCRYPT_COST: '9' }), { now: clock.now })

const ROUNDS = 80
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function timedLogin (username: string, password: string): Promise<number> {
  const started = process.hrtime.bigint()
  const res = await login(app, { username, password })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (res.body !== INVALID_CREDENTIALS_BODY) throw new Error(`expected the plain 401, got ${res.statusCode} ${res.body}`)
  return ms
}

t.test('a wrong password ending in six digits costs the same for unknown, plain and TFA users', async (t) => {
  const tfa = await createTfaUser(app, clock)
  const plain = await plainUser(app)
  const kinds = { unknown: randomUsername(), plain: plain.username, tfa: tfa.username }
  const times: Record<keyof typeof kinds, number[]> = { unknown: [], plain: [], tfa: [] }
  const order = Object.keys(kinds) as Array<keyof typeof kinds>
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate who goes first, so no kind always follows the same neighbour.
    for (let i = 0; i < order.length; i++) {
      const kind = order[(round + i) % order.length]!
      times[kind].push(await timedLogin(kinds[kind], `wrong password ${String(round).padStart(6, '0')}`))
    }
  }
  const m = { unknown: median(times.unknown), plain: median(times.plain), tfa: median(times.tfa) }
  t.comment(`medians (ms): unknown ${m.unknown.toFixed(1)}, plain ${m.plain.toFixed(1)}, tfa ${m.tfa.toFixed(1)}`)
  // Without equalising, the TFA user's failures take about twice as long (two hashes, not one).
  const tolerance = 0.25 * Math.min(m.unknown, m.plain, m.tfa)
  t.ok(Math.abs(m.tfa - m.unknown) < tolerance, `TFA user vs unknown user: ${(m.tfa - m.unknown).toFixed(1)} ms apart (tolerance ${tolerance.toFixed(1)} ms)`)
  t.ok(Math.abs(m.tfa - m.plain) < tolerance, `TFA user vs user without TFA: ${(m.tfa - m.plain).toFixed(1)} ms apart`)
  t.ok(Math.abs(m.plain - m.unknown) < tolerance, `user without TFA vs unknown user: ${(m.plain - m.unknown).toFixed(1)} ms apart`)
})

t.test('only failures pay the equalising hash: a right password ending in six digits costs one, a wrong one two', async (t) => {
  const plain = await plainUser(app, { password: 'a right password 123456' })
  const ok: number[] = []
  const failed: number[] = []
  for (let i = 0; i < 30; i++) {
    let started = process.hrtime.bigint()
    const res = await login(app, { username: plain.username, password: plain.password })
    ok.push(Number(process.hrtime.bigint() - started) / 1e6)
    t.equal(res.statusCode, 200)
    started = process.hrtime.bigint()
    await login(app, { username: plain.username, password: 'a wrong password 123456' })
    failed.push(Number(process.hrtime.bigint() - started) / 1e6)
  }
  t.comment(`medians (ms): success ${median(ok).toFixed(1)}, failure ${median(failed).toFixed(1)}`)
  t.ok(median(ok) < 0.8 * median(failed), 'one hash for the success, two for the failure')
})

import { randomBytes, randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import pg from 'pg'
import { PrismaPg } from '@prisma/adapter-pg'
import { migrate } from '../../src/db/migrate.js'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import { generateApiKey } from '../../src/auth/api-key-format.js'
import type { Amr } from '../../src/auth/tokens.js'
import { generateRefreshToken, hashRefreshToken, isWellFormedRefreshToken } from '../../src/sessions/refresh-token.js'
import { createSessionStore, type RefreshResult } from '../../src/sessions/session-store.js'
import { createTestDatabase, TestClock } from '../helper.js'

const IDLE_SECONDS = 3600
const MAX_SECONDS = 8 * 3600
const GRACE_MS = 10_000

const connectionString = await createTestDatabase(t)
await migrate(connectionString)
const newPrisma = () => {
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString }) })
  t.teardown(async () => { await prisma.$disconnect() })
  return prisma
}
const prisma = newPrisma()
const clock = new TestClock()
const sessions = createSessionStore({ prisma, now: clock.now, idleSeconds: IDLE_SECONDS, maxSeconds: MAX_SECONDS, reuseGraceMs: GRACE_MS })

/** Every refresh token this file saw, to look for in the tables at the end. */
const issued = new Set<string>()
/** A session the store wrote (null only when a TOTP step was not the newest). */
const made = <T>(value: T | null): T => { if (value === null) throw new Error('no session written'); return value }
const keep = <T extends { refreshToken: string }>(value: T | null) => { issued.add(made(value).refreshToken); return made(value) }

async function newUser (): Promise<string> {
  const user = await prisma.user.create({ data: { username: `u${randomBytes(6).toString('hex')}`, passwordHash: 'not a real hash' }, select: { id: true } })
  return user.id
}

async function login (userId: string, extra: { ip?: string, userAgent?: string } = {}) {
  return keep(await sessions.create({ userId, amr: ['pwd', 'otp', 'mfa'], authTime: new Date(clock.now()), ...extra }))
}

async function refreshOk (t: Test, token: string, what = 'rotated') {
  const result = await sessions.refresh(token)
  if (result.status !== 'rotated') throw new Error(`${what}: expected rotated, got ${JSON.stringify(result)}`)
  t.pass(what)
  return keep(result)
}

const sessionRow = async (id: string) => await prisma.session.findUniqueOrThrow({ where: { id } })

t.test('create: a session row, a well-formed token, the earlier of idle and absolute end', async (t) => {
  const userId = await newUser()
  const authTime = new Date(clock.now() - 5000)
  const created = keep(await sessions.create({ userId, amr: ['pwd'], authTime, ip: '203.0.113.9', userAgent: 'x'.repeat(600) }))
  t.match(created.sessionId, /^[0-9a-f-]{36}$/)
  t.ok(isWellFormedRefreshToken(created.refreshToken))
  t.equal(created.refreshExpiresIn, IDLE_SECONDS, 'idle end first')
  const row = await sessionRow(created.sessionId)
  t.equal(row.userId, userId)
  t.same(row.amr, ['pwd'])
  t.equal(row.authTime.getTime(), authTime.getTime())
  t.equal(row.createdAt.getTime(), clock.now(), 'times from the injected clock')
  t.equal(row.lastUsedAt.getTime(), clock.now())
  t.equal(row.expiresAt.getTime(), clock.now() + MAX_SECONDS * 1000)
  t.equal(row.ip, '203.0.113.9')
  t.equal(row.userAgent, 'x'.repeat(512), 'user agent cut to 512 characters')
  t.equal(row.revokedAt, null)

  const short = createSessionStore({ prisma, now: clock.now, idleSeconds: 7200, maxSeconds: 600 })
  t.equal(keep(await short.create({ userId, amr: ['pwd'], authTime })).refreshExpiresIn, 600, 'absolute end first')
})

t.test('refresh rotates: a new token, the login\'s amr and auth_time kept, last_used_at moved', async (t) => {
  const userId = await newUser()
  const authTime = new Date(clock.now())
  const first = await login(userId)
  clock.advance(60_000)
  const second = await refreshOk(t, first.refreshToken)
  t.not(second.refreshToken, first.refreshToken)
  t.ok(isWellFormedRefreshToken(second.refreshToken))
  t.same(second.session, { id: first.sessionId, userId, amr: ['pwd', 'otp', 'mfa'], authTime, rememberedDevice: false })
  t.equal(second.refreshExpiresIn, IDLE_SECONDS)
  t.equal((await sessionRow(first.sessionId)).lastUsedAt.getTime(), clock.now())
  clock.advance(60_000)
  const third = await refreshOk(t, second.refreshToken, 'the new token rotates in turn')
  t.same(third.session.authTime, authTime, 'auth_time is the login\'s, not the refresh\'s')
  const rows = await prisma.sessionRefreshToken.findMany({ where: { sessionId: first.sessionId }, orderBy: { issuedAt: 'asc' } })
  t.same(rows.map(r => r.tokenHash), [first, second, third].map(x => hashRefreshToken(x.refreshToken)), 'one row per token, as hashes')
  t.same(rows.map(r => r.rotatedAt === null), [false, false, true], 'all but the newest rotated')
})

t.test('a rotated token within the grace gets a sibling; past it, it is reuse and ends the session', async (t) => {
  const userId = await newUser()
  const first = await login(userId)
  const second = await refreshOk(t, first.refreshToken)
  clock.advance(GRACE_MS)
  const sibling = await refreshOk(t, first.refreshToken, 'at the end of the grace: a sibling')
  t.equal(sibling.session.id, first.sessionId, 'same session')
  t.not(sibling.refreshToken, second.refreshToken)
  const fromSecond = await refreshOk(t, second.refreshToken, 'the first tab\'s token still works')
  const fromSibling = await refreshOk(t, sibling.refreshToken, 'so does the second tab\'s')

  clock.advance(1)
  const reuse = await sessions.refresh(first.refreshToken)
  t.same(reuse, { status: 'reused', sessionId: first.sessionId, userId }, 'past the grace: reuse')
  const row = await sessionRow(first.sessionId)
  t.equal(row.revokedAt?.getTime(), clock.now())
  t.equal(row.revokedReason, 'refresh_reused')
  for (const [what, token] of [['newest (tab 1)', fromSecond.refreshToken], ['newest (tab 2)', fromSibling.refreshToken], ['the reused one', first.refreshToken]]) {
    t.same(await sessions.refresh(token!), { status: 'invalid' }, `${what}: invalid once the session is revoked`)
  }
  t.equal(await sessions.get(first.sessionId), null)
})

t.test('a token rotated several generations ago is reuse too', async (t) => {
  const userId = await newUser()
  const tokens = [(await login(userId)).refreshToken]
  for (let i = 0; i < 4; i++) {
    clock.advance(GRACE_MS + 1)
    tokens.push((await refreshOk(t, tokens.at(-1)!, `generation ${i + 1}`)).refreshToken)
  }
  clock.advance(GRACE_MS + 1)
  const reuse = await sessions.refresh(tokens[1]!)
  t.equal(reuse.status, 'reused')
  t.same(await sessions.refresh(tokens.at(-1)!), { status: 'invalid' }, 'the newest token stops working')
})

t.test('10 concurrent refreshes of one token (two instances): all get distinct working tokens, the session lives', async (t) => {
  const userId = await newUser()
  const first = await login(userId)
  // A second service on its own pool: the race is decided in PostgreSQL, not in one process.
  const otherInstance = createSessionStore({ prisma: newPrisma(), now: clock.now, idleSeconds: IDLE_SECONDS, maxSeconds: MAX_SECONDS, reuseGraceMs: GRACE_MS })
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? sessions : otherInstance).refresh(first.refreshToken)))
  t.same(results.map(r => r.status), Array(10).fill('rotated'), 'all rotated')
  const tokens = results.map(r => keep(r as Extract<RefreshResult, { status: 'rotated' }>).refreshToken)
  t.equal(new Set(tokens).size, 10, 'ten distinct tokens')
  t.ok(results.every(r => r.status === 'rotated' && r.session.id === first.sessionId), 'all for the same session')
  t.not(await sessions.get(first.sessionId), null, 'the session is alive')
  const original = await prisma.sessionRefreshToken.findUniqueOrThrow({ where: { tokenHash: hashRefreshToken(first.refreshToken) } })
  t.equal(original.rotatedAt?.getTime(), clock.now(), 'rotated once')
  for (const token of tokens) await refreshOk(t, token, 'each sibling works')
  t.not(await sessions.get(first.sessionId), null, 'still alive')
})

t.test('idle lifetime: refreshed within it lives on, past it the token is invalid', async (t) => {
  const userId = await newUser()
  let token = (await login(userId)).refreshToken
  clock.advance(IDLE_SECONDS * 1000 - 1)
  token = (await refreshOk(t, token, 'a millisecond before the idle end')).refreshToken
  clock.advance(IDLE_SECONDS * 1000 - 1)
  const last = await refreshOk(t, token, 'the idle end moved with the refresh')
  clock.advance(IDLE_SECONDS * 1000)
  t.same(await sessions.refresh(last.refreshToken), { status: 'invalid' }, 'at the idle end: invalid')
  t.equal(await sessions.get(last.session.id), null, 'and no longer live')
  t.equal((await sessionRow(last.session.id)).revokedAt, null, 'expired, not revoked')
})

t.test('absolute lifetime: however often refreshed, the session ends at created + max', async (t) => {
  const userId = await newUser()
  const created = await login(userId)
  const end = clock.now() + MAX_SECONDS * 1000
  let token = created.refreshToken
  let expiresIn = created.refreshExpiresIn
  while (clock.now() + IDLE_SECONDS * 500 < end) {
    clock.advance(IDLE_SECONDS * 500)
    const next = await sessions.refresh(token)
    if (next.status !== 'rotated') throw new Error(`refresh at ${end - clock.now()} ms before the end: ${next.status}`)
    token = next.refreshToken
    expiresIn = next.refreshExpiresIn
    t.equal(expiresIn, Math.floor(Math.min(IDLE_SECONDS * 1000, end - clock.now()) / 1000), 'refresh_expires_in never past the end')
  }
  t.ok(expiresIn < IDLE_SECONDS, 'near the end it shrinks to what is left')
  clock.advance(end - clock.now())
  t.same(await sessions.refresh(token), { status: 'invalid' }, 'at the absolute end: invalid')
  t.equal(await sessions.get(created.sessionId), null)
})

t.test('unknown, garbled and foreign tokens are invalid and change nothing', async (t) => {
  const userId = await newUser()
  const created = await login(userId)
  for (const token of [generateRefreshToken(), generateApiKey(), '', 'twofold_rt_', created.refreshToken + 'x', created.refreshToken.slice(0, -1) + '0']) {
    if (token === created.refreshToken) continue
    t.same(await sessions.refresh(token), { status: 'invalid' })
  }
  await refreshOk(t, created.refreshToken, 'the real one still works')
})

t.test('a deleted user\'s sessions are gone with it', async (t) => {
  const userId = await newUser()
  const created = await login(userId)
  await prisma.user.delete({ where: { id: userId } })
  t.same(await sessions.refresh(created.refreshToken), { status: 'invalid' })
  t.equal(await prisma.sessionRefreshToken.count({ where: { sessionId: created.sessionId } }), 0, 'tokens cascaded')
})

t.test('revoke: only the owner\'s live session, once', async (t) => {
  const owner = await newUser()
  const intruder = await newUser()
  const created = await login(owner)
  t.equal(await sessions.revoke(created.sessionId, { userId: intruder, reason: 'logout' }), false, 'another user\'s session: false')
  t.not(await sessions.get(created.sessionId), null, 'and it lives on')
  t.equal(await sessions.revoke(randomUUID(), { userId: owner, reason: 'logout' }), false, 'unknown id')
  t.equal(await sessions.revoke('not-a-uuid', { userId: owner, reason: 'logout' }), false, 'garbage id')
  t.equal(await sessions.revoke(created.sessionId, { userId: 'not-a-uuid', reason: 'logout' }), false, 'garbage user id')
  t.equal(await sessions.revoke(created.sessionId, { userId: owner, reason: 'logout' }), true, 'the owner\'s: true')
  t.equal(await sessions.revoke(created.sessionId, { userId: owner, reason: 'logout' }), false, 'already revoked')
  const row = await sessionRow(created.sessionId)
  t.equal(row.revokedReason, 'logout')
  t.equal(row.revokedAt?.getTime(), clock.now())
  t.same(await sessions.refresh(created.refreshToken), { status: 'invalid' }, 'its token no longer refreshes')
  t.equal(await sessions.get(created.sessionId), null)

  const byAdmin = await login(owner)
  t.equal(await sessions.revoke(byAdmin.sessionId, { reason: 'admin' }), true, 'without userId (an admin): any session')
})

t.test('list and revokeAll(except)', async (t) => {
  const userId = await newUser()
  const bystander = await newUser()
  const other = await login(bystander)
  const created = []
  for (let i = 0; i < 3; i++) {
    created.push(await login(userId, { ip: `198.51.100.${i}`, userAgent: `agent ${i}` }))
    clock.advance(1000)
  }
  const listed = await sessions.list(userId)
  t.same(listed.map(s => s.id), created.map(c => c.sessionId).reverse(), 'newest first')
  t.match(listed[0], { ip: '198.51.100.2', userAgent: 'agent 2', amr: ['pwd', 'otp', 'mfa'] })
  t.same(Object.keys(listed[0]!).sort(), ['amr', 'createdAt', 'expiresAt', 'id', 'ip', 'lastUsedAt', 'userAgent'])
  t.type(listed[0]!.createdAt, Date)

  const [oldest, current, newest] = created.map(c => c.sessionId)
  const ended = await sessions.revokeAll(userId, { except: current, reason: 'logout_all' })
  t.same(ended.sort(), [oldest, newest].sort(), 'the other two ended')
  t.same((await sessions.list(userId)).map(s => s.id), [current], 'the current one lives')
  t.equal((await sessionRow(oldest!)).revokedReason, 'logout_all')
  t.same(await sessions.revokeAll(userId, { except: current, reason: 'logout_all' }), [], 'nothing left to end')
  t.same((await sessions.list(bystander)).map(s => s.id), [other.sessionId], 'another user\'s sessions untouched')
  t.same(await sessions.revokeAll(userId, { reason: 'password_changed' }), [current], 'without except: all')
  t.same(await sessions.list(userId), [])
})

t.test('list leaves out idle-expired and absolute-expired sessions', async (t) => {
  const userId = await newUser()
  const idle = await login(userId)
  clock.advance(IDLE_SECONDS * 500)
  const fresh = await login(userId)
  t.equal((await sessions.list(userId)).length, 2)
  clock.advance(IDLE_SECONDS * 500)
  t.same((await sessions.list(userId)).map(s => s.id), [fresh.sessionId], 'the idle one is gone')
  t.equal(await sessions.get(idle.sessionId), null)

  // Kept busy until its absolute end.
  let token = fresh.refreshToken
  const end = (await sessionRow(fresh.sessionId)).expiresAt.getTime()
  while (clock.now() + IDLE_SECONDS * 250 < end) {
    clock.advance(IDLE_SECONDS * 250)
    token = (await refreshOk(t, token)).refreshToken
    t.equal((await sessions.list(userId)).length, 1)
  }
  clock.advance(end - clock.now())
  t.same(await sessions.list(userId), [], 'at its absolute end it is gone too')
  const got = await sessions.get(fresh.sessionId)
  t.equal(got, null)
})

t.test('get: the live session with its login facts', async (t) => {
  const userId = await newUser()
  const created = await login(userId, { ip: '192.0.2.1' })
  const got = await sessions.get(created.sessionId)
  t.match(got, { id: created.sessionId, userId, ip: '192.0.2.1', amr: ['pwd', 'otp', 'mfa'] })
  t.equal(got?.authTime.getTime(), clock.now())
  t.equal(await sessions.get(randomUUID()), null)
  t.equal(await sessions.get('garbage'), null)
})

t.test('purgeEnded deletes ended sessions (and their tokens) in batches, and only those', async (t) => {
  // A database of its own: the purge is table-wide, and the other tests' rows must stay.
  const own = await createTestDatabase(t)
  await migrate(own)
  const db = new PrismaClient({ adapter: new PrismaPg({ connectionString: own }) })
  t.teardown(async () => { await db.$disconnect() })
  const store = createSessionStore({ prisma: db, now: clock.now, idleSeconds: IDLE_SECONDS, maxSeconds: MAX_SECONDS })
  const { id: userId } = await db.user.create({ data: { username: 'purge', passwordHash: 'not a real hash' }, select: { id: true } })
  const login = () => ({ userId, amr: ['pwd' as const], authTime: new Date(clock.now()) })
  const start = clock.now()
  const revoked = made(await store.create(login()))
  await store.revoke(revoked.sessionId, { reason: 'logout' })
  const idle = made(await store.create(login()))
  const unrefreshable = made(await store.createUnrefreshable(login()))
  clock.advance(IDLE_SECONDS * 1000 / 2)
  const live = made(await store.create(login()))
  clock.advance(IDLE_SECONDS * 1000 / 2 + 1000)
  t.equal(await store.purgeEnded(start - 1), 0, 'nothing had ended before they began')
  t.equal(await store.purgeEnded(clock.now(), 1), 3, 'revoked, idle and the unrefreshable idle one, in batches of 1')
  const left = await db.session.findMany({ select: { id: true } })
  t.same(left.map(s => s.id), [live.sessionId], 'the live session stays')
  t.equal(await db.sessionRefreshToken.count({ where: { sessionId: { in: [revoked.sessionId, idle.sessionId, unrefreshable.sessionId] } } }), 0, 'their refresh tokens went with them')
  t.equal((await store.refresh(live.refreshToken)).status, 'rotated', 'and still refreshes')
})

t.test('totpStep: the session is written only when its step becomes the user\'s last, in the same statement', async (t) => {
  const userId = await newUser()
  const enabledAt = new Date(clock.now())
  await prisma.twoFactor.create({ data: { userId, method: 'totp', secretEnc: 'sealed', secretKeyId: 'k', enabledAt } })
  await prisma.user.update({ where: { id: userId }, data: { totpLastStep: 100 } })
  const at = { userId, amr: ['pwd', 'otp', 'mfa'] as Amr[], authTime: new Date(clock.now()) }
  const counts = async () => ({ sessions: await prisma.session.count({ where: { userId } }), tokens: await prisma.sessionRefreshToken.count({ where: { session: { userId } } }) })
  t.equal(await sessions.create({ ...at, totpStep: { step: 100 } }), null, 'the step already recorded: no session')
  t.equal(await sessions.create({ ...at, totpStep: { step: 99 } }), null, 'an older one: none')
  t.equal(await sessions.createUnrefreshable({ ...at, totpStep: { step: 100 } }), null, 'nor an unrefreshable one')
  t.same(await counts(), { sessions: 0, tokens: 0 }, 'no row written, no refresh token')
  const session = keep(await sessions.create({ ...at, totpStep: { step: 101 } }))
  t.equal((await prisma.user.findUniqueOrThrow({ where: { id: userId } })).totpLastStep, 101, 'a newer step: recorded')
  t.same(await counts(), { sessions: 1, tokens: 1 }, 'with its session and refresh token')
  t.equal((await sessions.refresh(session.refreshToken)).status, 'rotated', 'which works')
  t.equal(await sessions.create({ ...at, totpStep: { step: 101 } }), null, 'the same step twice: the second gets nothing')
  t.equal(await sessions.create({ ...at, totpStep: { step: 102, factorEnabledAt: new Date(enabledAt.getTime() - 60_000) } }), null, 'a code checked against another enrolment of the factor: none')
  keep(await sessions.create({ ...at, totpStep: { step: 102, factorEnabledAt: enabledAt } }))
  t.equal((await prisma.user.findUniqueOrThrow({ where: { id: userId } })).totpLastStep, 102, 'against this one: recorded')
  // Written by PostgreSQL itself, with microseconds JavaScript's Date does not hold.
  await prisma.$executeRaw`UPDATE two_factor SET enabled_at = ${enabledAt.toISOString()}::timestamptz + interval '600 microseconds' WHERE user_id = ${userId}::uuid`
  keep(await sessions.create({ ...at, totpStep: { step: 103, factorEnabledAt: enabledAt } }))
  t.equal((await prisma.user.findUniqueOrThrow({ where: { id: userId } })).totpLastStep, 103, 'the same enrolment read back without its microseconds: recorded')
  await prisma.twoFactor.delete({ where: { userId } })
  t.equal(await sessions.create({ ...at, totpStep: { step: 200 } }), null, 'TOTP off meanwhile: none')
  t.same(await counts(), { sessions: 3, tokens: 4 }, 'only the sessions whose step was recorded')
})

t.test('no refresh token is stored in clear: only their SHA-256', async (t) => {
  t.ok(issued.size > 50, `${issued.size} tokens issued in this file`)
  const client = new pg.Client({ connectionString })
  await client.connect()
  t.teardown(async () => { await client.end() })
  let text = ''
  for (const table of ['sessions', 'session_refresh_tokens']) {
    const { rows } = await client.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM ${table} t`)
    t.ok(rows.length > 0, `${table} has rows`)
    text += rows.map(r => r.row).join('\n')
  }
  const leaks = [...issued].filter(token => text.includes(token) || text.includes(token.slice('twofold_rt_'.length, -6)))
  t.same(leaks, [], 'no token, not even its body, in either table')
  const hashes = new Set((await prisma.sessionRefreshToken.findMany({ select: { tokenHash: true } })).map(r => r.tokenHash))
  const found = [...issued].filter(token => hashes.has(hashRefreshToken(token)))
  t.ok(found.length > 50, `rows keyed by the tokens' hashes (${found.length})`)
  t.ok([...hashes].every(h => /^[0-9a-f]{64}$/.test(h)))
})

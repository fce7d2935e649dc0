import { randomUUID } from 'node:crypto'
import { Prisma, type PrismaClient } from '../generated/prisma/client.js'
import { hasTfaOn } from '../auth/factors.js'
import { recordTotpStepSql, type TotpStep } from '../auth/totp-step.js'
import type { Amr } from '../auth/tokens.js'
import { generateRefreshToken, hashRefreshToken, isWellFormedRefreshToken } from './refresh-token.js'

export interface SessionStoreDeps {
  prisma: PrismaClient
  now: () => number
  /** A session not refreshed for this long has ended. */
  idleSeconds: number
  /** A session ends this long after its login, however often it is refreshed. */
  maxSeconds: number
  /** How long a rotated refresh token still yields a sibling instead of counting as reuse. */
  reuseGraceMs?: number
}

export interface NewSession {
  userId: string
  amr: Amr[]
  /** When the user last proved who they are (the login), kept by every refresh. */
  authTime: Date
  ip?: string
  userAgent?: string
  /** A remembered device stood in for the code at this login. */
  rememberedDevice?: boolean
  /**
   * The TOTP step of the login's code, recorded as the user's last one by the statement that
   * writes the session (one round trip where there were two): when a later or equal step is
   * there already, or TOTP went off meanwhile, there is no session.
   */
  totpStep?: TotpStep
}

export interface SessionView {
  id: string
  createdAt: Date
  lastUsedAt: Date
  expiresAt: Date
  ip: string | null
  userAgent: string | null
  amr: Amr[]
}

export interface LiveSession extends SessionView {
  userId: string
  authTime: Date
}

export type RefreshResult =
  | { status: 'rotated', session: { id: string, userId: string, amr: Amr[], authTime: Date, rememberedDevice: boolean }, user: { username: string, tfaOn: boolean }, refreshToken: string, refreshExpiresIn: number }
  | { status: 'invalid' }
  | { status: 'reused', sessionId: string, userId: string }

const REUSED_REASON = 'refresh_reused'

const INVALID: RefreshResult = { status: 'invalid' }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// An id from a URL is checked before it reaches a uuid column: PostgreSQL would reject it with an error, not "no row".
const isUuid = (id: string) => UUID.test(id)
const VIEW = { id: true, createdAt: true, lastUsedAt: true, expiresAt: true, ip: true, userAgent: true, amr: true } as const

/** Whole characters, so a cut never splits a surrogate pair. */
const clip = (text: string | undefined, max: number) => text === undefined ? null : Array.from(text).slice(0, max).join('')

/**
 * Session records: the lasting half of a login. Refresh tokens rotate on every use; only their SHA-256
 * is stored, and every rotated one is kept, so a token presented again is recognised as reuse
 * (a stolen copy) however many generations back it is.
 */
export function createSessionStore ({ prisma, now, idleSeconds, maxSeconds, reuseGraceMs = 10_000 }: SessionStoreDeps) {
  const idleMs = idleSeconds * 1000
  const maxMs = maxSeconds * 1000

  /** Not revoked, used within the idle lifetime, before the absolute end. */
  const liveAt = (at: number) => ({ revokedAt: null, expiresAt: { gt: new Date(at) }, lastUsedAt: { gt: new Date(at - idleMs) } })
  /** Seconds until the refresh token given at `at` stops working: the idle end or the absolute end, whichever comes first. */
  const refreshExpiresIn = (at: number, expiresAt: Date) => Math.floor((Math.min(at + idleMs, expiresAt.getTime()) - at) / 1000)
  const toView = <T extends { amr: string[] }>(row: T) => ({ ...row, amr: row.amr as Amr[] })

  // One statement, one round trip: every login runs it (a nested create is a transaction of
  // three round trips, about a millisecond more of the main thread per login, README "Performance").
  // With `totpStep`, the step's compare-and-set comes first in the same statement and the session
  // is selected from its row: a step taken by another login meanwhile writes nothing (0 rows).
  async function insert ({ userId, amr, authTime, ip, userAgent, rememberedDevice = false, totpStep }: NewSession, refreshToken?: string) {
    const at = now()
    const stamp = new Date(at).toISOString()
    const expiresAt = at + maxMs
    const id = randomUUID()
    const values = Prisma.sql`${id}::uuid, ${userId}::uuid, ${stamp}::timestamptz, ${stamp}::timestamptz, ${new Date(expiresAt).toISOString()}::timestamptz,
        ${amr}::text[], ${authTime.toISOString()}::timestamptz, ${clip(ip, 64)}, ${clip(userAgent, 512)}, ${rememberedDevice}`
    const ctes: Prisma.Sql[] = []
    if (totpStep !== undefined) ctes.push(Prisma.sql`step AS (${recordTotpStepSql(userId, totpStep.step, totpStep.factorEnabledAt)} RETURNING id)`)
    let statement = Prisma.sql`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, amr, auth_time, ip, user_agent, remembered_device)
      ${totpStep === undefined ? Prisma.sql`VALUES (${values})` : Prisma.sql`SELECT ${values} FROM step`}`
    if (refreshToken !== undefined) {
      ctes.push(Prisma.sql`s AS (${statement} RETURNING id)`)
      statement = Prisma.sql`INSERT INTO session_refresh_tokens (token_hash, session_id, issued_at) SELECT ${hashRefreshToken(refreshToken)}, id, ${stamp}::timestamptz FROM s`
    }
    const count = await prisma.$executeRaw`${ctes.length === 0 ? Prisma.empty : Prisma.sql`WITH ${Prisma.join(ctes)}`} ${statement}`
    if (count !== 1) return null
    return { sessionId: id, refreshExpiresIn: refreshExpiresIn(at, new Date(expiresAt)) }
  }

  return {
    /** A session and its first refresh token; null when the input's `totpStep` was not the newest. */
    async create (input: NewSession): Promise<{ sessionId: string, refreshToken: string, refreshExpiresIn: number } | null> {
      const refreshToken = generateRefreshToken()
      const session = await insert(input, refreshToken)
      return session === null ? null : { ...session, refreshToken }
    },

    /** A session that can't be refreshed (an enrolment-only login): listed and revocable, with no refresh token. */
    async createUnrefreshable (input: NewSession): Promise<{ sessionId: string } | null> {
      const session = await insert(input)
      return session === null ? null : { sessionId: session.sessionId }
    },

    /**
     * Exchanges a refresh token for the next one. Unknown, garbled, expired and revoked tokens
     * are all 'invalid' (one 401 for the caller). A token already rotated is reuse, and ends the
     * whole session, unless it comes back within `reuseGraceMs` of its rotation.
     *
     * The grace is for two tabs (or a retried request) refreshing the same token at the same
     * moment: the loser gets a sibling token for the same session instead of logging the user
     * out. An attacker replaying a stolen token inside that window goes unnoticed, so the window
     * is seconds; past it, the token is reuse like any other rotated one.
     */
    async refresh (refreshToken: string): Promise<RefreshResult> {
      if (!isWellFormedRefreshToken(refreshToken)) return INVALID
      const tokenHash = hashRefreshToken(refreshToken)
      const at = now()
      const stamp = new Date(at)
      return await prisma.$transaction(async (tx): Promise<RefreshResult> => {
        // The user comes with the token (one joined read): the new access token needs the
        // username, and mandatory TFA needs to know whether the factor is on.
        const token = await tx.sessionRefreshToken.findUnique({
          where: { tokenHash },
          select: { sessionId: true, session: { select: { user: { select: { username: true, twoFactor: { select: { enabledAt: true } } } } } } }
        })
        if (token === null) return INVALID
        const { user } = token.session
        // Updating the session row first locks it until commit: refreshes of one session and its
        // revocation take turns, so a revoked session can never hand out one more token (whose
        // access token would outlive the revocation already published).
        const [session] = await tx.session.updateManyAndReturn({
          where: { id: token.sessionId, ...liveAt(at) },
          data: { lastUsedAt: stamp },
          select: { id: true, userId: true, amr: true, authTime: true, expiresAt: true, rememberedDevice: true }
        })
        if (session === undefined) return INVALID
        // The conditional UPDATE decides, across instances, which refresh rotated this token.
        const { count: rotatedHere } = await tx.sessionRefreshToken.updateMany({ where: { tokenHash, rotatedAt: null }, data: { rotatedAt: stamp } })
        if (rotatedHere !== 1) {
          const rotated = await tx.sessionRefreshToken.findUnique({ where: { tokenHash }, select: { rotatedAt: true } })
          if (rotated?.rotatedAt == null) return INVALID
          if (at - rotated.rotatedAt.getTime() > reuseGraceMs) {
            await tx.session.update({ where: { id: session.id }, data: { revokedAt: stamp, revokedReason: REUSED_REASON } })
            return { status: 'reused', sessionId: session.id, userId: session.userId }
          }
        }
        const next = generateRefreshToken()
        await tx.sessionRefreshToken.create({ data: { tokenHash: hashRefreshToken(next), sessionId: session.id, issuedAt: stamp } })
        return {
          status: 'rotated',
          session: { id: session.id, userId: session.userId, amr: session.amr as Amr[], authTime: session.authTime, rememberedDevice: session.rememberedDevice },
          user: { username: user.username, tfaOn: hasTfaOn(user) },
          refreshToken: next,
          refreshExpiresIn: refreshExpiresIn(at, session.expiresAt)
        }
        // Refreshes of one session queue on its row lock: a burst of tabs must not time out waiting.
      }, { maxWait: 5_000, timeout: 10_000 })
    },

    /** Ends one session. False for unknown, already ended or another user's (the caller answers 404 for all). */
    async revoke (sessionId: string, { userId, reason }: { userId?: string, reason: string }): Promise<boolean> {
      if (!isUuid(sessionId) || (userId !== undefined && !isUuid(userId))) return false
      const { count } = await prisma.session.updateMany({
        where: { id: sessionId, userId, revokedAt: null },
        data: { revokedAt: new Date(now()), revokedReason: reason }
      })
      return count === 1
    },

    /**
     * Ends every session of the user not yet revoked (expired ones too: an access token may
     * still be out there), but `except`. Returns the ids, for the revocation list.
     */
    async revokeAll (userId: string, { except, reason }: { except?: string, reason: string }): Promise<string[]> {
      if (!isUuid(userId)) return []
      const rows = await prisma.session.updateManyAndReturn({
        where: { userId, revokedAt: null, ...(except !== undefined && isUuid(except) ? { id: { not: except } } : {}) },
        data: { revokedAt: new Date(now()), revokedReason: reason },
        select: { id: true }
      })
      return rows.map(r => r.id)
    },

    /** When a session ends unless refreshed: its idle end, or its absolute end if sooner (the rule liveAt applies). */
    endOf: (session: Pick<SessionView, 'lastUsedAt' | 'expiresAt'>): Date => new Date(Math.min(session.lastUsedAt.getTime() + idleMs, session.expiresAt.getTime())),

    /** The user's live sessions, newest first. */
    async list (userId: string): Promise<SessionView[]> {
      if (!isUuid(userId)) return []
      const rows = await prisma.session.findMany({ where: { userId, ...liveAt(now()) }, select: VIEW, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] })
      return rows.map(toView)
    },

    /**
     * Deletes, at most `batch` at a time, the sessions that had ended by `before` (revoked,
     * idle, or past their absolute end); their refresh tokens go with them. How many.
     */
    async purgeEnded (before: number, batch = 1000): Promise<number> {
      let purged = 0
      for (;;) {
        const count = await prisma.$executeRaw`DELETE FROM sessions WHERE id IN (
          SELECT id FROM sessions WHERE revoked_at < ${new Date(before)} OR expires_at < ${new Date(before)} OR last_used_at < ${new Date(before - idleMs)}
          LIMIT ${batch})`
        purged += count
        if (count < batch) return purged
      }
    },

    /** The session if it is live, else null. */
    async get (sessionId: string): Promise<LiveSession | null> {
      if (!isUuid(sessionId)) return null
      const row = await prisma.session.findFirst({ where: { id: sessionId, ...liveAt(now()) }, select: { ...VIEW, userId: true, authTime: true } })
      return row === null ? null : toView(row)
    }
  }
}

export type SessionStore = ReturnType<typeof createSessionStore>

import type { Config } from '../config/config.js'
import { AppError } from '../errors.js'
import type { AuditLog, RequestContext } from '../auth/audit.js'
import { API_KEY_TOKEN_MAX_TTL_SECONDS, isEnrolmentOnly, loginGrant, type TokenGrant } from '../auth/tokens.js'
import type { TotpStep } from '../auth/totp-step.js'
import type { RevocationList } from './revocation-list.js'
import type { SessionStore } from './session-store.js'

/** The access token part of a response, as the one issuing path signs it. */
export interface SignedToken { access_token: string, token_type: 'Bearer', expires_in: number }

export interface SessionTokens extends SignedToken {
  session_id: string
  refresh_token?: string
  refresh_expires_in?: number
}

/** Why sessions end; each is audited as `session.ended` with it. */
export type EndReason = 'logout' | 'user' | 'admin' | 'password_changed' | 'tfa_enabled' | 'tfa_disabled' | 'tfa_reset' | 'tfa_required'

interface Deps {
  store: SessionStore
  revocations: RevocationList
  issueToken: (grant: TokenGrant) => SignedToken
  audit: AuditLog
  config: Pick<Config, 'jwtTtlSeconds' | 'tfa'>
  now: () => number
}

// Instances' clocks differ a little; an entry outlives the tokens it stops by this much.
const CLOCK_SKEW_MS = 5_000

/**
 * Sessions as the API sees them: a login opens one, a refresh rotates it, logout and the
 * security events end it. Ending is immediate on every instance: the ended id goes to the
 * revocation list, which every instance checks on every authenticated request.
 */
export function createSessionService ({ store, revocations, issueToken, audit, config, now }: Deps) {
  const { jwtTtlSeconds } = config

  /** Refuses the access tokens of `ids` until the last one that could exist has expired. */
  async function stopTokens (ids: string[], ttlSeconds = jwtTtlSeconds) {
    await revocations.revoke(ids, Date.now() + ttlSeconds * 1000 + CLOCK_SKEW_MS)
  }

  function sign (grant: TokenGrant, sessionId: string, authTime: Date, maxTtlSeconds?: number) {
    return issueToken({ ...grant, claims: { ...grant.claims, sid: sessionId, auth_time: Math.floor(authTime.getTime() / 1000) }, maxTtlSeconds })
  }

  const service = {
    /**
     * A login's tokens: a new session, its first refresh token (none for an enrolment-only login)
     * and an access token bound to it. With `totpStep` the session is written only if that step
     * becomes the user's last one (session-store.ts): null when it did not.
     */
    async start (grant: TokenGrant, ctx: RequestContext = {}, { totpStep }: { totpStep?: TotpStep } = {}): Promise<SessionTokens | null> {
      const authTime = new Date(now())
      const input = { userId: grant.claims.sub, amr: grant.claims.amr, authTime, ip: ctx.ip, userAgent: ctx.userAgent, rememberedDevice: grant.claims.remembered_device === true, totpStep }
      if (isEnrolmentOnly(grant)) {
        const session = await store.createUnrefreshable(input)
        return session === null ? null : { ...sign(grant, session.sessionId, authTime), ...grant.extras, session_id: session.sessionId }
      }
      const session = await store.create(input)
      if (session === null) return null
      return { ...sign(grant, session.sessionId, authTime), ...grant.extras, refresh_token: session.refreshToken, refresh_expires_in: session.refreshExpiresIn, session_id: session.sessionId }
    },

    /**
     * The next refresh token and a fresh access token with the login's amr and auth_time
     * (refreshing is not re-authenticating). A rotated token presented again is theft: the
     * session ends at once, everywhere. Every refusal is the same 401.
     */
    async refresh (refreshToken: string, ctx: RequestContext = {}): Promise<SessionTokens> {
      const result = await store.refresh(refreshToken)
      if (result.status === 'invalid') throw new AppError('invalidRefreshToken')
      if (result.status === 'reused') {
        await stopTokens([result.sessionId])
        audit.record('session.refresh_reused', result.userId, ctx, { session_id: result.sessionId })
        throw new AppError('invalidRefreshToken')
      }
      const { session, user } = result
      const grant = loginGrant({ sub: session.userId, username: user.username, amr: session.amr, ...(session.rememberedDevice ? { remembered_device: true as const } : {}) }, { tfaOn: user.tfaOn, mandatory: config.tfa, now: now() })
      // Mandatory TFA came into force during the session: it goes on only through a new login (and enrolment).
      if (isEnrolmentOnly(grant)) {
        await service.end(session.userId, session.id, 'tfa_required', ctx)
        throw new AppError('invalidRefreshToken')
      }
      // An access token never outlives the session's refresh window.
      return { ...sign(grant, session.id, session.authTime, Math.max(1, result.refreshExpiresIn)), ...grant.extras, refresh_token: result.refreshToken, refresh_expires_in: result.refreshExpiresIn, session_id: session.id }
    },

    /** Ends one of the user's sessions; false when it is unknown, ended already or someone else's. */
    async end (userId: string, sessionId: string, reason: EndReason, ctx: RequestContext = {}): Promise<boolean> {
      if (!await store.revoke(sessionId, { userId, reason })) return false
      await stopTokens([sessionId])
      audit.record('session.ended', userId, ctx, { reason, count: 1, session_id: sessionId })
      return true
    },

    /** Ends every session of the user but `except` (the caller's own, for "sign out everywhere else"); how many. */
    async endAll (userId: string, { except, reason, by }: { except?: string, reason: EndReason, by?: string }, ctx: RequestContext = {}): Promise<number> {
      const ids = await store.revokeAll(userId, { except, reason })
      if (ids.length === 0) return 0
      await stopTokens(ids)
      audit.record('session.ended', userId, ctx, { reason, count: ids.length, ...(by === undefined ? {} : { by }) })
      return ids.length
    },

    /** A revoked API key's access tokens stop at once, not when they expire. */
    async endApiKeyTokens (apiKeyId: string): Promise<void> {
      await stopTokens([apiKeyId], Math.min(jwtTtlSeconds, API_KEY_TOKEN_MAX_TTL_SECONDS))
    },

    /** The user's live sessions, newest first; `current` marks the caller's. */
    async list (userId: string, currentId?: string) {
      const rows = await store.list(userId)
      return {
        sessions: rows.map(s => ({
          id: s.id,
          created_at: s.createdAt.toISOString(),
          last_used_at: s.lastUsedAt.toISOString(),
          expires_at: store.endOf(s).toISOString(),
          ip: s.ip,
          user_agent: s.userAgent,
          amr: s.amr,
          current: s.id === currentId
        }))
      }
    }
  }
  return service
}

export type SessionService = ReturnType<typeof createSessionService>

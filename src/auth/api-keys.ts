import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import { generateApiKey, hashApiKey, isWellFormedApiKey } from './api-key-format.js'
import type { SessionService } from '../sessions/session-service.js'
import type { AuditLog, RequestContext } from './audit.js'
import { hasTfaOn } from './factors.js'
import { apiKeyGrant, type Amr, type TokenGrant } from './tokens.js'

/** `api_key.used` is recorded at most this often per key: a script exchanging its key every few minutes would bury the trail. */
const USED_EVENT_EVERY_MS = 60 * 60 * 1000

interface Deps { prisma: PrismaClient, audit: AuditLog, now: () => number, sessions: Pick<SessionService, 'endApiKeyTokens'> }

const LIST_VIEW = { id: true, name: true, hint: true, createdAt: true, expiresAt: true, lastUsedAt: true } as const

/** API keys: created by a logged-in user, exchanged at POST /token, revoked at once. */
export function createApiKeyService ({ prisma, audit, now, sessions }: Deps) {
  return {
    /**
     * A key is as strong as the login that made it: with TFA on, only a login that passed the
     * code may create one; and a token from a key never makes another key, so a leaked key
     * can't be turned into keys that outlive its revocation.
     */
    async assertMayCreate (userId: string, amr: Amr[]) {
      if (amr.includes('api_key')) throw new AppError('apiKeyFromApiKey')
      const user = await prisma.user.findUnique({ where: { id: userId }, select: { twoFactor: { select: { enabledAt: true } } } })
      if (user === null) throw new AppError('userGone')
      if (hasTfaOn(user) && !amr.includes('mfa')) throw new AppError('apiKeyMfaRequired')
    },

    async create (userId: string, input: { name: string, expires_at?: string }, ctx: RequestContext = {}) {
      const expiresAt = input.expires_at === undefined ? null : new Date(input.expires_at)
      if (expiresAt !== null && expiresAt.getTime() <= now()) throw new AppError('expiryNotInFuture')
      const key = generateApiKey()
      const row = await prisma.apiKey.create({
        data: { userId, name: input.name, keyHash: hashApiKey(key), hint: key.slice(-4), createdAt: new Date(now()), expiresAt },
        select: { id: true, name: true, expiresAt: true }
      })
      audit.record('api_key.created', userId, ctx, { api_key_id: row.id, name: row.name })
      return { id: row.id, name: row.name, key, expires_at: row.expiresAt?.toISOString() ?? null }
    },

    async list (userId: string) {
      const rows = await prisma.apiKey.findMany({ where: { userId }, select: LIST_VIEW, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] })
      return {
        api_keys: rows.map(r => ({
          id: r.id,
          name: r.name,
          hint: `twofold_ak_…${r.hint}`,
          created_at: r.createdAt.toISOString(),
          expires_at: r.expiresAt?.toISOString() ?? null,
          last_used_at: r.lastUsedAt?.toISOString() ?? null,
          expired: r.expiresAt !== null && r.expiresAt.getTime() <= now()
        }))
      }
    },

    /**
     * Deleting the row is the revocation: the next exchange finds nothing, and the tokens already
     * exchanged for the key stop at once. Another user's key is "not found".
     */
    async revoke (userId: string, id: string, ctx: RequestContext = {}) {
      const { count } = await prisma.apiKey.deleteMany({ where: { id, userId } })
      if (count !== 1) throw new AppError('apiKeyNotFound')
      await sessions.endApiKeyTokens(id)
      audit.record('api_key.revoked', userId, ctx, { api_key_id: id })
    },

    /** A grant for the key's owner, or the one 401 for unknown, garbled, revoked and expired keys alike. */
    async exchange (key: string, ctx: RequestContext = {}): Promise<TokenGrant> {
      if (!isWellFormedApiKey(key)) throw new AppError('invalidApiKey')
      const row = await prisma.apiKey.findUnique({
        where: { keyHash: hashApiKey(key) },
        select: { id: true, userId: true, expiresAt: true, user: { select: { username: true } } }
      })
      const at = now()
      if (row === null || (row.expiresAt !== null && row.expiresAt.getTime() <= at)) throw new AppError('invalidApiKey')
      const stamp = new Date(at)
      // One conditional UPDATE decides, across instances, which use of the hour is audited.
      const { count } = await prisma.apiKey.updateMany({
        where: { id: row.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(at - USED_EVENT_EVERY_MS) } }] },
        data: { lastUsedAt: stamp }
      })
      if (count === 1) audit.record('api_key.used', row.userId, ctx, { api_key_id: row.id })
      else await prisma.apiKey.updateMany({ where: { id: row.id }, data: { lastUsedAt: stamp } })
      return apiKeyGrant({ id: row.userId, username: row.user.username }, row.id)
    }
  }
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>

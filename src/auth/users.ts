import { AppError } from '../errors.js'
import { Prisma, type PrismaClient } from '../generated/prisma/client.js'
import type { AuditLog, RequestContext } from './audit.js'
import { hasTfaOn } from './factors.js'
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, passwordBytes, type PasswordHasher } from './passwords.js'
import type { Amr } from './tokens.js'

/** Usernames are case-insensitive: "Alice" and "alice" are one account, stored lower-case. */
export const normalizeUsername = (username: string) => username.toLowerCase()

export function assertPasswordPolicy (password: string): void {
  const bytes = passwordBytes(password)
  if (bytes > MAX_PASSWORD_BYTES) throw new AppError('passwordTooLong')
  if (bytes < MIN_PASSWORD_BYTES) throw new AppError('passwordTooShort')
}

export type UserKind = 'human' | 'automation'

/** The token's user; 404 when deleted since the token was issued. */
export async function getUser (prisma: PrismaClient, id: string): Promise<{ id: string, username: string, kind: UserKind }> {
  const user = await prisma.user.findUnique({ where: { id }, select: { id: true, username: true, kind: true } })
  if (user === null) throw new AppError('userGone')
  return user
}

interface Deps {
  prisma: PrismaClient
  passwords: PasswordHasher
  audit: AuditLog
  registration: 'open' | 'closed'
  adminRequiresTfa: boolean
}

/** Accounts as such: registration, and whether a token's subject may administer. */
export function createUserService ({ prisma, passwords, audit, registration, adminRequiresTfa }: Deps) {
  return {
    async register (input: { username: string, password: string, kind?: UserKind }, ctx: RequestContext = {}) {
      if (registration === 'closed') throw new AppError('registrationClosed')
      assertPasswordPolicy(input.password)
      const passwordHash = await passwords.hash(input.password)
      try {
        const user = await prisma.user.create({
          data: { username: normalizeUsername(input.username), passwordHash, kind: input.kind ?? 'human' },
          select: { id: true, username: true }
        })
        audit.record('user.registered', user.id, ctx)
        return user
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw new AppError('usernameTaken')
        throw err
      }
    },

    /**
     * Role from the database, not the token: a demoted admin loses access at once. Never with a
     * token from an API key; with TFA on, only with a token from a login that passed it; and
     * where administrators must have TFA, not without it.
     */
    async assertAdmin (id: string, amr: Amr[]): Promise<void> {
      const user = await prisma.user.findUnique({ where: { id }, select: { role: true, twoFactor: { select: { enabledAt: true } } } })
      if (user?.role !== 'admin') throw new AppError('adminRequired')
      if (amr.includes('api_key')) throw new AppError('apiKeyTokenRefused')
      if (!hasTfaOn(user)) {
        if (adminRequiresTfa) throw new AppError('adminTfaRequired')
        return
      }
      if (!amr.includes('mfa')) throw new AppError('adminMfaRequired')
    }
  }
}

export type UserService = ReturnType<typeof createUserService>

import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { SessionService } from '../sessions/session-service.js'
import type { TrustedDevices } from './trusted-devices.js'
import type { AuditLog, RequestContext } from './audit.js'
import { DEFAULT_DEVICE_NAME } from './factors.js'
import type { PasswordHasher } from './passwords.js'
import type { SecondFactorService } from './second-factor.js'
import { assertPasswordPolicy, normalizeUsername } from './users.js'

const USER_VIEW = {
  id: true,
  username: true,
  role: true,
  kind: true,
  createdAt: true,
  protectedActions: true,
  twoFactor: { select: { enabledAt: true, method: true, deviceName: true, pendingSecretEnc: true } },
  _count: { select: { recoveryCodes: { where: { usedAt: null } } } }
} as const

/** What the support desk sees and does: find a user, reset TFA after a lost phone, unblock, read their events. */
interface Deps {
  prisma: PrismaClient
  secondFactor: SecondFactorService
  audit: AuditLog
  sessions: Pick<SessionService, 'endAll' | 'list'>
  trustedDevices: Pick<TrustedDevices, 'revokeAll'>
}

export function createAdminService ({ prisma, secondFactor, audit, sessions, trustedDevices }: Deps) {
  async function view (user: NonNullable<Awaited<ReturnType<typeof findView>>>) {
    const { lockedMs, failures, lockouts } = await secondFactor.lockState(user.id)
    const enabled = user.twoFactor?.enabledAt != null
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      kind: user.kind,
      created_at: user.createdAt.toISOString(),
      tfa: {
        enabled,
        pending: user.twoFactor?.pendingSecretEnc != null,
        enabled_at: user.twoFactor?.enabledAt?.toISOString() ?? null,
        devices: enabled ? [{ name: user.twoFactor?.deviceName ?? DEFAULT_DEVICE_NAME, type: user.twoFactor?.method ?? 'totp' }] : [],
        recovery_codes_left: enabled ? user._count.recoveryCodes : 0,
        protected_actions: user.protectedActions,
        locked: lockedMs > 0,
        locked_for_seconds: Math.ceil(lockedMs / 1000),
        failures,
        lockouts
      }
    }
  }
  const findView = async (id: string) => await prisma.user.findUnique({ where: { id }, select: USER_VIEW })

  async function mustExist (id: string) {
    const user = await findView(id)
    if (user === null) throw new AppError('userNotFound')
    return user
  }

  return {
    async getUser (id: string) {
      return await view(await mustExist(id))
    },

    async listSessions (id: string) {
      await mustExist(id)
      return await sessions.list(id)
    },

    async endSessions (id: string, adminId: string, ctx: RequestContext) {
      await mustExist(id)
      await sessions.endAll(id, { reason: 'admin', by: adminId }, ctx)
    },

    async events (id: string, page: { limit?: number, cursor?: string }) {
      await mustExist(id)
      return await audit.list(id, page)
    },

    /** Exact username, or every username starting with `prefix`, alphabetically. */
    async findUsers ({ username, prefix, limit = 20 }: { username?: string, prefix?: string, limit?: number }) {
      const where = username !== undefined
        ? { username: normalizeUsername(username) }
        : prefix !== undefined ? { username: { startsWith: normalizeUsername(prefix) } } : {}
      const users = await prisma.user.findMany({ where, select: USER_VIEW, orderBy: { username: 'asc' }, take: limit })
      return { users: await Promise.all(users.map(view)) }
    },

    /** Lost or stolen phone: the factor and everything about it goes, at once, on every instance. */
    async resetTfa (id: string, adminId: string, ctx: RequestContext) {
      await mustExist(id)
      await prisma.$transaction([
        prisma.recoveryCode.deleteMany({ where: { userId: id } }),
        prisma.twoFactor.deleteMany({ where: { userId: id } })
      ])
      await secondFactor.forget(id)
      audit.record('admin.tfa_reset', id, ctx, { by: adminId })
      // Whoever holds the lost phone may be logged in too: every session ends.
      await sessions.endAll(id, { reason: 'tfa_reset', by: adminId }, ctx)
      await trustedDevices.revokeAll(id, 'tfa_reset', ctx)
      return await view(await mustExist(id))
    },

    async setKind (id: string, kind: 'human' | 'automation', adminId: string, ctx: RequestContext) {
      const { count } = await prisma.user.updateMany({ where: { id }, data: { kind } })
      if (count !== 1) throw new AppError('userNotFound')
      audit.record('admin.kind_changed', id, ctx, { by: adminId, kind })
      return await view(await mustExist(id))
    },

    async unlockTfa (id: string, adminId: string, ctx: RequestContext) {
      await mustExist(id)
      await secondFactor.unlock(id)
      audit.record('admin.tfa_unlocked', id, ctx, { by: adminId })
      return await view(await mustExist(id))
    }
  }
}

export type AdminService = ReturnType<typeof createAdminService>

/**
 * Creates the administrator, or (when `promote`) makes an existing user one, whose password then
 * stays as it is. The operator's CLI promotes; ADMIN_USERNAME at start does not, or whoever
 * registered that name first would become administrator.
 */
export async function ensureAdmin (deps: { prisma: PrismaClient, passwords: PasswordHasher }, username: string, password: string, { promote = true } = {}): Promise<'created' | 'promoted' | 'unchanged' | 'taken'> {
  const name = normalizeUsername(username)
  const existing = await deps.prisma.user.findUnique({ where: { username: name }, select: { role: true } })
  if (existing?.role === 'admin') return 'unchanged'
  if (existing !== null && !promote) return 'taken'
  if (existing !== null) {
    await deps.prisma.user.update({ where: { username: name }, data: { role: 'admin' } })
    return 'promoted'
  }
  assertPasswordPolicy(password)
  const passwordHash = await deps.passwords.hash(password)
  await deps.prisma.user.upsert({ where: { username: name }, create: { username: name, passwordHash, role: 'admin' }, update: { role: 'admin' } })
  return 'created'
}

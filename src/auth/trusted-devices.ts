import { randomUUID } from 'node:crypto'
import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { AuditLog, RequestContext } from './audit.js'
import { deviceNameFrom } from './device-name.js'
import { createTokenFormat } from './opaque-token.js'

const deviceTokenFormat = createTokenFormat('twofold_td_')
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** A double-submitted login presents the same token twice at once: the loser is not a thief. */
const REUSE_GRACE_MS = 10_000

/** Why a device stopped being trusted; audited as `tfa.trusted_device_revoked` with it. */
export type DeviceEndReason = 'user' | 'reused' | 'password_changed' | 'tfa_enabled' | 'tfa_disabled' | 'tfa_reset'

export type DeviceUse =
  | { status: 'trusted', deviceId: string, deviceToken: string }
  /** Unknown, garbled, expired, revoked, another user's, or a double submit's loser: ask for the code. */
  | { status: 'untrusted' }

export interface TrustedDeviceDeps {
  prisma: PrismaClient
  audit: AuditLog
  now: () => number
  /** 0 turns the feature off. */
  days: number
}

/**
 * "Remember this device": after a login with a code, a token the device keeps stands in for the
 * code on later logins (never for the password). It rotates on every use, like a refresh token,
 * and a rotated one presented again means a copy exists: that device is no longer trusted.
 */
export function createTrustedDevices ({ prisma, audit, now, days }: TrustedDeviceDeps) {
  const lifetimeMs = days * 86_400_000

  async function revokeWhere (userId: string, where: { id?: string }, reason: DeviceEndReason, ctx: RequestContext): Promise<number> {
    const { count } = await prisma.trustedDevice.updateMany({ where: { userId, ...where, revokedAt: null }, data: { revokedAt: new Date(now()), revokedReason: reason } })
    if (count > 0) audit.record('tfa.trusted_device_revoked', userId, ctx, { reason, count, ...(where.id === undefined ? {} : { device_id: where.id }) })
    return count
  }

  /** The live device of `userId` the token names now (not a rotated one), without using it. */
  async function recognise (userId: string, token: string): Promise<string | null> {
    if (!deviceTokenFormat.isWellFormed(token)) return null
    const row = await prisma.trustedDeviceToken.findUnique({ where: { tokenHash: deviceTokenFormat.hash(token) }, select: { rotatedAt: true, device: { select: { id: true, userId: true, revokedAt: true, expiresAt: true } } } })
    const device = row?.device
    if (row == null || device === undefined || row.rotatedAt !== null || device.userId !== userId || device.revokedAt !== null || device.expiresAt.getTime() <= now()) return null
    return device.id
  }

  return {
    enabled: days > 0,
    recognise,

    /** A new trusted device for the client of a login with a code; its first token. */
    async remember (userId: string, ctx: RequestContext): Promise<string> {
      const token = deviceTokenFormat.generate()
      const at = new Date(now())
      const id = randomUUID()
      await prisma.trustedDevice.create({
        data: { id, userId, name: deviceNameFrom(ctx.userAgent), createdAt: at, lastUsedAt: at, expiresAt: new Date(at.getTime() + lifetimeMs), tokens: { create: { tokenHash: deviceTokenFormat.hash(token), issuedAt: at } } }
      })
      audit.record('tfa.trusted_device_added', userId, ctx, { device_id: id })
      return token
    },

    /**
     * The device token of a login whose password was right: trusted (and rotated: the token
     * given here stops working) or not. A rotated token of this user's live device, past the
     * double-submit grace, is a copy: the device is revoked and the reuse audited.
     */
    async use (userId: string, token: string, ctx: RequestContext): Promise<DeviceUse> {
      if (!deviceTokenFormat.isWellFormed(token)) return { status: 'untrusted' }
      const at = new Date(now())
      const next = deviceTokenFormat.generate()
      // Compare-and-set on the token's row: of two uses at once, one rotates, the other finds it rotated.
      const [rotated] = await prisma.$queryRaw<Array<{ id: string }>>`
        WITH spent AS (
          UPDATE trusted_device_tokens t SET rotated_at = ${at}
          FROM trusted_devices d
          WHERE t.token_hash = ${deviceTokenFormat.hash(token)} AND t.rotated_at IS NULL AND d.id = t.device_id
            AND d.user_id = ${userId}::uuid AND d.revoked_at IS NULL AND d.expires_at > ${at}
          RETURNING t.device_id
        ), fresh AS (
          INSERT INTO trusted_device_tokens (token_hash, device_id, issued_at)
          SELECT ${deviceTokenFormat.hash(next)}, device_id, ${at} FROM spent RETURNING device_id
        )
        UPDATE trusted_devices SET last_used_at = ${at} WHERE id IN (SELECT device_id FROM fresh) RETURNING id`
      if (rotated !== undefined) return { status: 'trusted', deviceId: rotated.id, deviceToken: next }

      const row = await prisma.trustedDeviceToken.findUnique({ where: { tokenHash: deviceTokenFormat.hash(token) }, select: { rotatedAt: true, device: { select: { id: true, userId: true, revokedAt: true, expiresAt: true } } } })
      const device = row?.device
      // Another user's token is worth nothing here, and is not this user's to revoke.
      if (row?.rotatedAt == null || device === undefined || device.userId !== userId || device.revokedAt !== null || device.expiresAt <= at) return { status: 'untrusted' }
      if (at.getTime() - row.rotatedAt.getTime() >= REUSE_GRACE_MS) {
        await revokeWhere(userId, { id: device.id }, 'reused', ctx)
        audit.record('tfa.trusted_device_reused', userId, ctx, { device_id: device.id })
      }
      return { status: 'untrusted' }
    },

    /** The user's trusted devices still in force, newest first. */
    async list (userId: string) {
      const rows = await prisma.trustedDevice.findMany({
        where: { userId, revokedAt: null, expiresAt: { gt: new Date(now()) } },
        orderBy: { createdAt: 'desc' },
        select: { id: true, name: true, createdAt: true, lastUsedAt: true, expiresAt: true }
      })
      return { devices: rows.map(d => ({ id: d.id, name: d.name, created_at: d.createdAt.toISOString(), last_used_at: d.lastUsedAt.toISOString(), expires_at: d.expiresAt.toISOString() })) }
    },

    /** Ends one of the user's devices; 404 when it is unknown, ended or someone else's. */
    async revoke (userId: string, id: string, ctx: RequestContext): Promise<void> {
      if (!UUID.test(id) || await revokeWhere(userId, { id }, 'user', ctx) === 0) throw new AppError('trustedDeviceNotFound')
    },

    /**
     * Deletes, `batch` at a time, the devices that had ended (revoked or expired) by `before`,
     * with their tokens: a rotated token is only worth keeping while its device could be reused.
     */
    async purgeEnded (before: number, batch = 1000): Promise<number> {
      let purged = 0
      for (;;) {
        const count = await prisma.$executeRaw`DELETE FROM trusted_devices WHERE id IN (
          SELECT id FROM trusted_devices WHERE revoked_at < ${new Date(before)} OR expires_at < ${new Date(before)} LIMIT ${batch})`
        purged += count
        if (count < batch) return purged
      }
    },

    /** Every device of the user stops being trusted (the factor or the password changed). */
    async revokeAll (userId: string, reason: DeviceEndReason, ctx: RequestContext = {}): Promise<number> {
      return await revokeWhere(userId, {}, reason, ctx)
    }
  }
}

export type TrustedDevices = ReturnType<typeof createTrustedDevices>

import { AppError, type ErrorName } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import { replaceRecoveryCodes } from './recovery-codes.js'

type Pending = { pendingSecretEnc: string } | { pendingPhoneEnc: string }
type Factor = { method: 'totp', secretEnc: string, secretKeyId: string } | { method: 'sms', phoneEnc: string, phoneKeyId: string }

export interface Activation {
  userId: string
  /** The pending value the proof was checked against: if it changed since, the switch fails. */
  pending: Pending
  factor: Factor
  deviceName: string
  /** Thrown when the pending value is gone (a concurrent enrolment replaced it). */
  notPending: ErrorName
  now: () => number
}

/**
 * Switches a proven pending factor on, in one transaction: a compare-and-swap on the pending
 * value (a concurrent enrolment that replaced it wins, and `notPending` is thrown), every pending
 * value of either method cleared, and fresh recovery codes, which are returned.
 */
export async function switchFactorOn (prisma: PrismaClient, { userId, pending, factor, deviceName, notPending, now }: Activation): Promise<string[]> {
  return await prisma.$transaction(async (tx) => {
    const { count } = await tx.twoFactor.updateMany({
      where: { userId, enabledAt: null, ...pending },
      data: {
        ...factor,
        enabledAt: new Date(now()),
        deviceName,
        pendingSecretEnc: null,
        pendingKeyId: null,
        pendingCreatedAt: null,
        pendingPhoneEnc: null,
        pendingPhoneKeyId: null
      }
    })
    if (count !== 1) throw new AppError(notPending)
    return await replaceRecoveryCodes(tx, userId)
  })
}

import { AppError } from '../errors.js'
import type { SealedSecret } from './secret-box.js'

/** What a factor is called until its owner names it (as authenticator portals show it). */
export const DEFAULT_DEVICE_NAME = 'unnamed'

/** The columns that say which second factor is on. */
export const FACTOR_SELECT = {
  enabledAt: true,
  method: true,
  secretEnc: true,
  secretKeyId: true,
  phoneEnc: true,
  phoneKeyId: true
} as const

export interface FactorRow {
  enabledAt: Date | null
  method: 'totp' | 'sms'
  secretEnc: string | null
  secretKeyId: string | null
  phoneEnc: string | null
  phoneKeyId: string | null
}

/** The second factor in use: an authenticator's sealed secret, or a verified phone's sealed number. */
export type ActiveFactor =
  | { method: 'totp', sealed: SealedSecret }
  | { method: 'sms', phone: SealedSecret }

/** enabledAt is only ever set by a validated enrolment, in the same update as its secret or phone. */
export const hasTfaOn = (user: { twoFactor: { enabledAt: Date | null } | null }) => user.twoFactor?.enabledAt != null

export function activeFactor (row: FactorRow | null | undefined): ActiveFactor | null {
  if (row?.enabledAt == null) return null
  if (row.method === 'sms') {
    return row.phoneEnc !== null && row.phoneKeyId !== null ? { method: 'sms', phone: { ciphertext: row.phoneEnc, keyId: row.phoneKeyId } } : null
  }
  return row.secretEnc !== null && row.secretKeyId !== null ? { method: 'totp', sealed: { ciphertext: row.secretEnc, keyId: row.secretKeyId } } : null
}

/** Enrolling while a factor is on: the same method is "already enabled", another one must be switched off first. */
export function assertNoFactorOn (current: { enabledAt: Date | null, method: 'totp' | 'sms' } | null, enrolling: 'totp' | 'sms'): void {
  if (current?.enabledAt == null) return
  throw new AppError(current.method === enrolling ? 'tfaAlreadyEnabled' : 'tfaMethodActive')
}

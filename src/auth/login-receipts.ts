import { createHash, createHmac, hkdfSync } from 'node:crypto'
import type { EphemeralStore, ReceiptClaim } from '../store/ephemeral-store.js'
import type { FactorRow } from './factors.js'
import { createTokenFormat } from './opaque-token.js'

export const LOGIN_RECEIPT_TTL_SECONDS = 300
export const LOGIN_RECEIPT_MAX_ATTEMPTS = 5

const receiptFormat = createTokenFormat('twofold_lr_')

/**
 * Which factor a receipt was issued for: the method, when it was enabled and its sealed secret.
 * Re-enrolling (or an administrator's reset and a new enrolment) changes it, so a receipt from
 * before is worth nothing afterwards.
 */
export function factorBinding (row: FactorRow): string {
  const sealed = row.method === 'sms' ? row.phoneEnc : row.secretEnc
  return `${row.method}:${row.enabledAt?.getTime() ?? 0}:${createHash('sha256').update(sealed ?? '').digest('base64url').slice(0, 16)}`
}

/**
 * Login receipts: the proof, handed out with the documented 401, that this client gave the
 * right password a moment ago, so the code can follow without the password (and a second
 * bcrypt). 256 random bits in the shared opaque format; the store keeps only an HMAC of it, so
 * a dump of Redis holds nothing a client could present.
 */
export function createLoginReceipts ({ store, hashKeySource }: { store: EphemeralStore, hashKeySource: Buffer }) {
  const hashKey = Buffer.from(hkdfSync('sha256', hashKeySource, Buffer.alloc(0), 'twofold login receipt v1', 32))
  const hashOf = (receipt: string) => createHmac('sha256', hashKey).update(receipt).digest('base64url')

  return {
    async issue (userId: string, factor: FactorRow): Promise<string> {
      const receipt = receiptFormat.generate()
      await store.putReceipt(userId, hashOf(receipt), factorBinding(factor), LOGIN_RECEIPT_TTL_SECONDS * 1000)
      return receipt
    },

    /** Whose login the receipt continues (null: none); a look-alike is nobody's without a store read. */
    async ownerOf (receipt: string): Promise<string | null> {
      if (!receiptFormat.isWellFormed(receipt)) return null
      return await store.receiptOwner(hashOf(receipt))
    },

    /** One of the receipt's code attempts, counted across every instance. */
    async claimAttempt (userId: string, receipt: string): Promise<ReceiptClaim> {
      return await store.claimReceiptAttempt(userId, hashOf(receipt), LOGIN_RECEIPT_MAX_ATTEMPTS)
    },

    /** After a right code: true for exactly one caller, however many raced with the receipt. */
    async spend (userId: string, receipt: string): Promise<boolean> {
      return await store.spendReceipt(userId, hashOf(receipt))
    },

    /** Every receipt of the user issued so far stops working (password changed). */
    async endAll (userId: string): Promise<void> {
      await store.endReceipts(userId)
    }
  }
}

export type LoginReceipts = ReturnType<typeof createLoginReceipts>

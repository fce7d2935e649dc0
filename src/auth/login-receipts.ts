import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import type { EphemeralStore, ReceiptClaim, ReceiptCodeResult } from '../store/ephemeral-store.js'
import { activeFactor, type FactorRow } from './factors.js'
import type { LoginUser } from './login-user.js'
import type { SecretBox } from './secret-box.js'
import { usedStepTtlMs } from './second-factor.js'
import { isTotpCode, timeStep, totpCodes } from './totp.js'

export const LOGIN_RECEIPT_TTL_SECONDS = 300
export const LOGIN_RECEIPT_MAX_ATTEMPTS = 5

const PREFIX = 'twofold_lr_'
const RANDOM_BYTES = 32
const TAG_BYTES = 16
// The 16 bytes of a UUID: 32 random, 16 sealed, 16 tag, in base64url.
const RECEIPT_PATTERN = /^twofold_lr_([A-Za-z0-9_-]{86})$/
const ZERO_IV = Buffer.alloc(12)
const UUID_HEX = /^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$/i

/** Who a coded receipt's second step logs in, kept with it so that step reads no database. */
export interface ReceiptContext { username: string, enabledAt: Date }

const uuidToBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex')
const bytesToUuid = (b: Buffer) => b.toString('hex').replace(UUID_HEX, '$1-$2-$3-$4-$5')

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
 * bcrypt). The store keeps only an HMAC of each, so a dump of Redis holds nothing a client
 * could present.
 *
 * A receipt carries its user, sealed, as Keystone's receipts do: 256 random bits, then the
 * user's id under AES-256-GCM with a key of its own (HKDF of the service key and those bits,
 * so the zero IV never repeats under one key). The second step learns whose receipt it is and
 * refuses a forgery without a round trip, and the user's id is not readable in it.
 *
 * A TOTP factor's receipt also keeps, for every step it can be redeemed in (its five minutes and
 * the code window either side), an HMAC of that step's code under a key of its own and the
 * receipt's hash, with the user's name and the factor's enabling time: the second step checks
 * the code in the store's script and reads nothing from the database. The secret is never kept
 * in the store, and what it holds is worth nothing without the service's key and the
 * receipt (a step's hash names six digits only to someone who has both).
 */
export function createLoginReceipts ({ store, hashKeySource, secretBox, now, window }: { store: EphemeralStore, hashKeySource: Buffer, secretBox: SecretBox, now: () => number, window: number }) {
  const hashKey = Buffer.from(hkdfSync('sha256', hashKeySource, Buffer.alloc(0), 'twofold login receipt v1', 32))
  const sealKey = Buffer.from(hkdfSync('sha256', hashKeySource, Buffer.alloc(0), 'twofold login receipt seal v1', 32))
  const codeKey = Buffer.from(hkdfSync('sha256', hashKeySource, Buffer.alloc(0), 'twofold login receipt codes v1', 32))
  const hashOf = (receipt: string) => createHmac('sha256', hashKey).update(receipt).digest('base64url')
  const keyFor = (random: Buffer) => Buffer.from(hkdfSync('sha256', sealKey, random, 'twofold login receipt owner', 32))
  const codeHash = (receiptHash: string, step: number, code: string) => createHmac('sha256', codeKey).update(`${receiptHash}:${step}:${code}`).digest('base64url')

  /** The hashes of the codes a receipt issued now can be redeemed with, and what the second step needs. */
  function codesFor (user: LoginUser, row: FactorRow, receiptHash: string) {
    const factor = activeFactor(row)
    if (factor?.method !== 'totp' || row.enabledAt === null) return undefined
    const at = now()
    const codes = totpCodes(secretBox.open(factor.sealed, user.id), timeStep(at) - window, timeStep(at + LOGIN_RECEIPT_TTL_SECONDS * 1000) + window)
    return {
      codes: codes.map(([step, code]) => [step, codeHash(receiptHash, step, code)] as const),
      floor: user.durable.floorStep,
      context: JSON.stringify([user.username, row.enabledAt.getTime()])
    }
  }

  function seal (userId: string): string {
    const random = randomBytes(RANDOM_BYTES)
    const cipher = createCipheriv('aes-256-gcm', keyFor(random), ZERO_IV)
    const sealed = Buffer.concat([cipher.update(uuidToBytes(userId)), cipher.final()])
    return PREFIX + Buffer.concat([random, sealed, cipher.getAuthTag()]).toString('base64url')
  }

  function open (receipt: string): string | null {
    const body = RECEIPT_PATTERN.exec(receipt)?.[1]
    if (body === undefined) return null
    const raw = Buffer.from(body, 'base64url')
    // base64url's last character has spare bits a decoder ignores: only the one spelling we issue counts.
    if (raw.toString('base64url') !== body) return null
    const random = raw.subarray(0, RANDOM_BYTES)
    const decipher = createDecipheriv('aes-256-gcm', keyFor(random), ZERO_IV)
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
    try {
      return bytesToUuid(Buffer.concat([decipher.update(raw.subarray(RANDOM_BYTES, raw.length - TAG_BYTES)), decipher.final()]))
    } catch {
      return null
    }
  }

  return {
    /**
     * A receipt for the 401 (with a TOTP factor, with its codes' hashes). With `checkLock` the
     * factor's lock is checked in the same store step (one round trip where a lock check and the
     * receipt were two): a locked factor gets none, and its lock.
     */
    async issue (user: LoginUser, factor: FactorRow, { checkLock = false } = {}): Promise<{ receipt: string, lockedMs: 0 } | { receipt: null, lockedMs: number }> {
      const receipt = seal(user.id)
      const hash = hashOf(receipt)
      const lockedMs = await store.putReceipt(user.id, hash, factorBinding(factor), LOGIN_RECEIPT_TTL_SECONDS * 1000, checkLock, codesFor(user, factor, hash))
      return lockedMs > 0 ? { receipt: null, lockedMs } : { receipt, lockedMs: 0 }
    },

    /**
     * Whose login the receipt continues, from the receipt alone (null: not one of ours). Whether
     * it still lives is the store's to say, at the attempt.
     */
    ownerOf (receipt: string): string | null {
      return open(receipt)
    },

    /** One of the receipt's code attempts, counted across every instance. */
    async claimAttempt (userId: string, receipt: string): Promise<ReceiptClaim> {
      return await store.claimReceiptAttempt(userId, hashOf(receipt), LOGIN_RECEIPT_MAX_ATTEMPTS)
    },

    /**
     * The second step with a TOTP code as one store step: the receipt's attempt, the code against
     * the hashes it keeps for the steps of now's window, the step, and the spend when accepted,
     * then with who it logs in. 'uncoded': the receipt keeps no codes (SMS, or issued before they
     * were kept), nothing was taken.
     */
    async redeemCode (userId: string, receipt: string, code: string): Promise<Exclude<ReceiptCodeResult, { status: 'accepted' }> | { status: 'accepted', step: number, context: ReceiptContext }> {
      const hash = hashOf(receipt)
      const current = timeStep(now())
      const candidates: Array<readonly [number, string]> = []
      if (isTotpCode(code)) for (let step = current - window; step <= current + window; step++) candidates.push([step, codeHash(hash, step, code)])
      const result = await store.redeemReceiptCode(userId, hash, { maxAttempts: LOGIN_RECEIPT_MAX_ATTEMPTS, candidates, ttlMs: usedStepTtlMs(window) })
      if (result.status !== 'accepted') return result
      const [username, enabledAt] = JSON.parse(result.context) as [string, number]
      return { status: 'accepted', step: result.step, context: { username, enabledAt: new Date(enabledAt) } }
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

import type { Config } from '../config/config.js'
import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { SessionService } from '../sessions/session-service.js'
import type { AuditLog, RequestContext } from './audit.js'
import type { DeviceCookies } from './device-cookies.js'
import { activeFactor } from './factors.js'
import { createLoginCompletion, NO_CODE, verifiedByCode, type LoginTokens, type Verified } from './login-grant.js'
import type { LoginReceipts } from './login-receipts.js'
import { findLoginUser, type LoginUser } from './login-user.js'
import { MIN_PASSWORD_BYTES, passwordBytes, type PasswordHasher } from './passwords.js'
import { isProtected, type ProtectedAction } from './protected-actions.js'
import { createReceiptLogin } from './receipt-login.js'
import { normalizeTotpInput, throwCodeFailure, type SecondFactorService } from './second-factor.js'
import type { TrustedDevices } from './trusted-devices.js'
import { assertPasswordPolicy, normalizeUsername } from './users.js'

export interface Credentials {
  password: string
  totp?: string
  recovery_code?: string
}

export interface LoginInput extends Credentials {
  username: string
  /** A trusted device's token: stands in for the code (never for the password). */
  device_token?: string
  /** After a login with a code: remember this device (the response gets a `device_token`). */
  remember_device?: boolean
}

export interface AccountDeps {
  prisma: PrismaClient
  passwords: PasswordHasher
  secondFactor: SecondFactorService
  audit: AuditLog
  config: Pick<Config, 'tfa'>
  now: () => number
  sessions: Pick<SessionService, 'endAll' | 'start'>
  receipts: LoginReceipts
  trustedDevices: Pick<TrustedDevices, 'enabled' | 'use' | 'remember' | 'revokeAll'>
  deviceCookies: Pick<DeviceCookies, 'enabled' | 'issue'>
}

const APPENDED_CODE = /^(.+?)([0-9]{6})$/s

/** The password and code of a field that may be "password then code", or null when it can't be one. */
function splitAppendedCode (field: string, codeGiven: boolean): { password: string, code: string } | null {
  const split = codeGiven ? null : APPENDED_CODE.exec(field)
  if (split?.[1] === undefined || split[2] === undefined || passwordBytes(split[1]) < MIN_PASSWORD_BYTES) return null
  return { password: split[1], code: split[2] }
}

// An empty field is a field left blank in a form: no code, not a wrong one.
const typedTotpOf = (input: Credentials) => input.totp === undefined || input.totp.trim() === '' ? undefined : input.totp
const explicitCodeOf = (input: Credentials) => typedTotpOf(input) ?? input.recovery_code

// The body stays byte-exact; the header tells a client that knows the password which code to ask for.
const codeMissingOrWrong = (method: string) => new AppError('tfaRequired', { headers: { 'x-tfa-method': method } })

/**
 * Password, then (when TFA is on and the action is protected) the second factor: the same rules
 * at login and at every sensitive action. A wrong password is always the plain 401, and only a
 * right password reveals that a code is needed.
 */
export function createAccountService ({ prisma, passwords, secondFactor, audit, config, now, sessions, receipts, trustedDevices, deviceCookies }: AccountDeps) {
  // The 401s whose factor lock is still to be checked, by the receipt's store step.
  const lockLeftToReceipt = new WeakSet<AppError>()
  const completeLogin = createLoginCompletion({ audit, config, now, trustedDevices, deviceCookies, sessions })
  /**
   * The code may be typed right after the password. The split is tried first; when that shorter
   * password is wrong, the whole field is tried (a password that itself ends in six digits).
   * At most two bcrypt verifications per request.
   */
  async function checkPassword (field: string, hash: string, codeGiven: boolean): Promise<{ ok: boolean, appendedCode?: string }> {
    const split = splitAppendedCode(field, codeGiven)
    if (split !== null) {
      if (await passwords.verify(split.password, hash)) return { ok: true, appendedCode: split.code }
    }
    return { ok: await passwords.verify(field, hash) }
  }

  /**
   * A wrong password that could carry an appended code costs a user with TFA two verifications
   * (split, then whole). Every other failure with such a field pays the second one against the
   * dummy hash, so the time of a failed login tells nothing about the username (whether it
   * exists, has TFA on). Successful logins never pay it.
   */
  async function equaliseFailure (input: Credentials) {
    if (splitAppendedCode(input.password, explicitCodeOf(input) !== undefined) !== null) await passwords.verifyAgainstDummy(input.password)
  }

  /**
   * Returns how the user proved who they are (RFC 8176 amr) or throws the catalogue's error,
   * auditing failures. At login a receipt follows a 401 (withReceipt) and the session's statement
   * records a TOTP code's step (login-grant.ts); other actions record it here.
   */
  async function verifyCredentials (user: LoginUser, input: Credentials & { device_token?: string }, action: ProtectedAction, ctx: RequestContext): Promise<Verified> {
    const atLogin = action === 'login'
    const fail = (reason: 'password' | 'code' | 'replayed' | 'locked') => audit.record('login.failed', user.id, ctx, { action, reason })
    // Mandatory TFA overrides a user's choice to leave login unprotected (possibly made before it was mandatory).
    const factor = activeFactor(user.twoFactor)
    const codeRequired = factor !== null && (isProtected(user.protectedActions, action) || (action === 'login' && config.tfa.required))
    if (!codeRequired) {
      if (!await passwords.verify(input.password, user.passwordHash)) {
        await equaliseFailure(input)
        fail('password')
        throw new AppError('invalidCredentials')
      }
      return NO_CODE
    }

    const typedTotp = typedTotpOf(input)
    const password = await checkPassword(input.password, user.passwordHash, explicitCodeOf(input) !== undefined)
    if (!password.ok) {
      fail('password')
      throw new AppError('invalidCredentials')
    }

    const totp = typedTotp !== undefined ? normalizeTotpInput(typedTotp) : password.appendedCode
    if (totp === undefined && input.recovery_code === undefined) {
      // A remembered device stands in for the code, only after the right password, only its own user's.
      if (input.device_token !== undefined && atLogin) {
        const device = await trustedDevices.use(user.id, input.device_token, ctx)
        if (device.status === 'trusted') return { amr: ['pwd'], codeUsed: false, device: { deviceToken: device.deviceToken } }
      }
      // A missing code is the normal first step of a two-step form: it is not a failure, but a
      // locked account still learns it is locked. Only here, after the right password, does an SMS go out.
      // At login the receipt that goes out with the 401 checks a TOTP factor's lock in the store
      // in its own script (withReceipt): one round trip where there were two.
      const lockToReceipt = atLogin && factor.method !== 'sms'
      const lockedMs = await secondFactor.challenge(user.id, factor, ctx, user.durable, { storeLock: !lockToReceipt })
      if (lockedMs > 0) {
        fail('locked')
        throwCodeFailure({ lockedMs }, 'tfaRequired')
      }
      const err = codeMissingOrWrong(factor.method)
      if (lockToReceipt) lockLeftToReceipt.add(err)
      throw err
    }
    const outcome = await secondFactor.verifyAnyCode(user.id, factor, {
      code: totp,
      recoveryCode: typedTotp === undefined ? input.recovery_code : undefined
    }, ctx, user.durable, { stepToSession: atLogin })
    if (!outcome.ok) {
      fail(outcome.lockedMs > 0 ? 'locked' : outcome.replayed === true ? 'replayed' : 'code')
      if (outcome.lockedMs > 0) throwCodeFailure(outcome, 'tfaRequired')
      throw codeMissingOrWrong(factor.method)
    }
    if (outcome.method === 'recovery') audit.record('tfa.recovery_code_used', user.id, ctx, { action })
    const factorEnabledAt = user.twoFactor?.enabledAt ?? undefined
    return verifiedByCode(outcome.method, outcome.totpStep === undefined ? undefined : { step: outcome.totpStep, factorEnabledAt })
  }

  /**
   * The 401 that asks for the code, with a receipt so the code can follow without the password.
   * Where the lock was left to it (a TOTP login without a code), a locked factor gets no
   * receipt but the 429, as it would have before the receipt.
   */
  async function withReceipt (err: unknown, user: LoginUser, ctx: RequestContext): Promise<unknown> {
    if (!(err instanceof AppError) || err.kind !== 'tfaRequired' || user.twoFactor === null) return err
    const issued = await receipts.issue(user, user.twoFactor, { checkLock: lockLeftToReceipt.has(err) })
    if (issued.receipt === null) {
      audit.record('login.failed', user.id, ctx, { action: 'login', reason: 'locked' })
      throwCodeFailure(issued, 'tfaRequired')
    }
    return new AppError('tfaRequired', { headers: { ...err.headers, 'x-tfa-receipt': issued.receipt } })
  }

  return {
    ...createReceiptLogin({ prisma, receipts, secondFactor, audit, completeLogin }),

    /** The whole login: credentials, then what the token may do (mandatory TFA), and the session. */
    async login (input: LoginInput, ctx: RequestContext = {}): Promise<LoginTokens> {
      const user = await findLoginUser(prisma, { username: normalizeUsername(input.username) })
      if (user === null) {
        await passwords.verifyAgainstDummy(input.password)
        await equaliseFailure(input)
        throw new AppError('invalidCredentials')
      }
      let verified: Verified
      try {
        verified = await verifyCredentials(user, input, 'login', ctx)
      } catch (err) {
        throw await withReceipt(err, user, ctx)
      }
      const tokens = await completeLogin(user, verified, input.remember_device === true, ctx)
      if (tokens !== null) return tokens
      // The TOTP code's step went to another login between the store's check and the session (a
      // store that lost its record, or TOTP switched off meanwhile): refused like any spent code.
      audit.record('login.failed', user.id, ctx, { action: 'login', reason: 'replayed' })
      throw await withReceipt(codeMissingOrWrong('totp'), user, ctx)
    },

    /** The current password (and, when protected, a code: appended or in `totp`) for a new one. */
    async changePassword (userId: string, input: Credentials & { new_password: string }, ctx: RequestContext = {}) {
      const user = await findLoginUser(prisma, { id: userId })
      if (user === null) throw new AppError('userGone')
      assertPasswordPolicy(input.new_password)
      try {
        await verifyCredentials(user, input, 'password_change', ctx)
      } catch (err) {
        // Not a 401: the caller is authenticated, only the confirmation is wrong.
        if (err instanceof AppError && err.kind === 'invalidCredentials') throw new AppError('currentPasswordWrong')
        throw err
      }
      const passwordHash = await passwords.hash(input.new_password)
      await prisma.user.update({ where: { id: userId }, data: { passwordHash } })
      audit.record('password.changed', user.id, ctx)
      // The old password's half-finished logins and remembered devices end with it. Device
      // cookies stay: they only prove a past login, for the rate limit, never stand in for the password.
      await receipts.endAll(userId)
      await trustedDevices.revokeAll(userId, 'password_changed', ctx)
      // Whoever else knew the old password is signed out; the caller stays.
      await sessions.endAll(userId, { except: ctx.sessionId, reason: 'password_changed' }, ctx)
    }
  }
}

export type AccountService = ReturnType<typeof createAccountService>

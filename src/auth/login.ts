import type { Config } from '../config/config.js'
import { AppError } from '../errors.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { Amr } from '../plugins/auth.js'
import { MIN_PASSWORD_BYTES, passwordBytes, type PasswordHasher } from './passwords.js'
import { normalizeTotpInput, throwCodeFailure, type SecondFactorService } from './second-factor.js'
import { normalizeUsername } from './users.js'

export interface LoginInput {
  username: string
  password: string
  totp?: string
  recovery_code?: string
}

export interface LoginDeps {
  prisma: PrismaClient
  passwords: PasswordHasher
  secondFactor: SecondFactorService
  config: Config
}

const APPENDED_CODE = /^(.+?)([0-9]{6})$/s

/**
 * Password, then (when TFA is on) the second factor. Returns the user id and the methods used
 * (RFC 8176 amr). Throws the catalogue's errors: a wrong password is always the plain 401, and
 * only a right password reveals that a code is needed.
 */
export function createLoginService ({ prisma, passwords, secondFactor }: LoginDeps) {
  /**
   * The code may be typed right after the password. The split is tried first; when that shorter
   * password is wrong, the whole field is tried (a password that itself ends in six digits).
   * At most two bcrypt verifications per request.
   */
  async function checkPassword (field: string, hash: string, codeGiven: boolean): Promise<{ ok: boolean, appendedCode?: string }> {
    const split = codeGiven ? null : APPENDED_CODE.exec(field)
    if (split?.[1] !== undefined && passwordBytes(split[1]) >= MIN_PASSWORD_BYTES) {
      if (await passwords.verify(split[1], hash)) return { ok: true, appendedCode: split[2] }
    }
    return { ok: await passwords.verify(field, hash) }
  }

  return async function login (input: LoginInput): Promise<{ userId: string, amr: Amr[] }> {
    const user = await prisma.user.findUnique({
      where: { username: normalizeUsername(input.username) },
      select: { id: true, passwordHash: true, twoFactor: { select: { secretEnc: true, secretKeyId: true, enabledAt: true } } }
    })
    if (user === null) {
      await passwords.verifyAgainstDummy(input.password)
      throw new AppError('invalidCredentials')
    }
    const tfa = user.twoFactor
    if (tfa?.enabledAt == null || tfa.secretEnc === null || tfa.secretKeyId === null) {
      if (!await passwords.verify(input.password, user.passwordHash)) throw new AppError('invalidCredentials')
      return { userId: user.id, amr: ['pwd'] }
    }

    // An empty field is a field left blank in a form: no code, not a wrong one.
    const typedTotp = input.totp === undefined || input.totp.trim() === '' ? undefined : input.totp
    const explicit = typedTotp ?? input.recovery_code
    const password = await checkPassword(input.password, user.passwordHash, explicit !== undefined)
    if (!password.ok) throw new AppError('invalidCredentials')

    const totp = typedTotp !== undefined ? normalizeTotpInput(typedTotp) : password.appendedCode
    if (totp === undefined && input.recovery_code === undefined) {
      // A missing code is the normal first step of a two-step form: it is not a failure,
      // but a locked account still learns it is locked.
      const lockedMs = await secondFactor.lockedMs(user.id)
      if (lockedMs > 0) throwCodeFailure({ lockedMs }, 'tfaRequired')
      throw new AppError('tfaRequired')
    }
    const outcome = await secondFactor.verifyAnyCode(user.id, { ciphertext: tfa.secretEnc, keyId: tfa.secretKeyId }, {
      totp,
      recoveryCode: typedTotp === undefined ? input.recovery_code : undefined
    })
    if (!outcome.ok) throwCodeFailure(outcome, 'tfaRequired')
    return { userId: user.id, amr: outcome.method === 'otp' ? ['pwd', 'otp', 'mfa'] : ['pwd', 'mfa'] }
  }
}

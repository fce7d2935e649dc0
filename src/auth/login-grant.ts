import type { Config } from '../config/config.js'
import type { AuditLog, RequestContext } from './audit.js'
import { hasTfaOn, type FactorRow } from './factors.js'
import type { LoginUser } from './login-user.js'
import type { CodeMethod } from './second-factor.js'
import type { TotpStep } from './totp-step.js'
import type { DeviceCookies } from './device-cookies.js'
import { loginGrant, type Amr, type GrantExtras } from './tokens.js'
import type { SessionService, SessionTokens } from '../sessions/session-service.js'
import type { TrustedDevices } from './trusted-devices.js'

/** How the user proved who they are at a login. */
export interface Verified {
  amr: Amr[]
  /** A code (TOTP, SMS or recovery) was entered: only then may the device be remembered. */
  codeUsed: boolean
  /** A trusted device stood in for the code; its next token. */
  device?: { deviceToken: string }
  /** The TOTP code's step, still to be recorded, by the statement that writes the session. */
  totpStep?: TotpStep
}

export const NO_CODE: Verified = { amr: ['pwd'], codeUsed: false }

/** RFC 8176: what a code of each kind adds to the password. */
export const verifiedByCode = (method: CodeMethod, totpStep?: TotpStep): Verified => ({
  amr: method === 'recovery' ? ['pwd', 'mfa'] : method === 'sms' ? ['pwd', 'sms', 'mfa'] : ['pwd', 'otp', 'mfa'],
  codeUsed: true,
  ...(totpStep === undefined ? {} : { totpStep })
})

interface Deps {
  audit: AuditLog
  config: Pick<Config, 'tfa'>
  now: () => number
  trustedDevices: Pick<TrustedDevices, 'enabled' | 'remember'>
  deviceCookies: Pick<DeviceCookies, 'enabled' | 'issue'>
  sessions: Pick<SessionService, 'start'>
}

export type LoginTokens = SessionTokens & GrantExtras

/** Who logs in: all a login's completion reads of the user. */
export type LoginIdentity = Pick<LoginUser, 'id' | 'username'> & { twoFactor: Pick<FactorRow, 'enabledAt'> | null }

/**
 * A successful login, whichever step completed it: the grant (mandatory TFA decides its
 * scope), the claim that a remembered device stood in for the code, the session, and then a
 * device token when one was asked for after a code, or rotated, and a device cookie
 * (device-cookies.ts).
 *
 * The session comes first: its statement also records the TOTP code's step (Verified.totpStep),
 * and when another login took that step meanwhile nothing is written and the answer is null, so
 * nothing is audited as a success and no device is remembered for a login that did not happen.
 */
export function createLoginCompletion ({ audit, config, now, trustedDevices, deviceCookies, sessions }: Deps) {
  return async function completeLogin (user: LoginIdentity, verified: Verified, rememberDevice: boolean, ctx: RequestContext): Promise<LoginTokens | null> {
    const { amr, device } = verified
    const claims = { sub: user.id, username: user.username, amr, ...(device === undefined ? {} : { remembered_device: true as const }) }
    const grant = loginGrant(claims, { tfaOn: hasTfaOn(user), mandatory: config.tfa, now: now() })
    const tokens = await sessions.start(grant, ctx, { totpStep: verified.totpStep })
    if (tokens === null) return null
    audit.record('login.succeeded', user.id, ctx, { amr, ...(device === undefined ? {} : { trusted_device: true }) })
    const deviceToken = device?.deviceToken ?? (rememberDevice && verified.codeUsed && trustedDevices.enabled ? await trustedDevices.remember(user.id, ctx) : undefined)
    // Every login (not only "remember this device") makes the client a known device for the rate limit.
    const deviceCookie = deviceCookies.enabled ? deviceCookies.issue(user.id, user.username) : undefined
    return {
      ...tokens,
      ...(deviceToken === undefined ? {} : { device_token: deviceToken }),
      ...(deviceCookie === undefined ? {} : { device_cookie: deviceCookie })
    }
  }
}

export type CompleteLogin = ReturnType<typeof createLoginCompletion>

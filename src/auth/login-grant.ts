import type { Config } from '../config/config.js'
import type { AuditLog, RequestContext } from './audit.js'
import { hasTfaOn } from './factors.js'
import type { LoginUser } from './login-user.js'
import type { CodeMethod } from './second-factor.js'
import type { DeviceCookies } from './device-cookies.js'
import { loginGrant, type Amr, type TokenGrant } from './tokens.js'
import type { TrustedDevices } from './trusted-devices.js'

/** How the user proved who they are at a login. */
export interface Verified {
  amr: Amr[]
  /** A code (TOTP, SMS or recovery) was entered: only then may the device be remembered. */
  codeUsed: boolean
  /** A trusted device stood in for the code; its next token. */
  device?: { deviceToken: string }
}

export const NO_CODE: Verified = { amr: ['pwd'], codeUsed: false }

/** RFC 8176: what a code of each kind adds to the password. */
export const verifiedByCode = (method: CodeMethod): Verified => ({
  amr: method === 'recovery' ? ['pwd', 'mfa'] : method === 'sms' ? ['pwd', 'sms', 'mfa'] : ['pwd', 'otp', 'mfa'],
  codeUsed: true
})

interface Deps {
  audit: AuditLog
  config: Pick<Config, 'tfa'>
  now: () => number
  trustedDevices: Pick<TrustedDevices, 'enabled' | 'remember'>
  deviceCookies: Pick<DeviceCookies, 'enabled' | 'issue'>
}

/**
 * What a successful login yields, whichever step completed it: the grant (mandatory TFA
 * decides its scope), the claim that a remembered device stood in for the code, and a device
 * token when one was asked for after a code, or rotated, and a device cookie (device-cookies.ts).
 */
export function createLoginGrants ({ audit, config, now, trustedDevices, deviceCookies }: Deps) {
  return async function grantFor (user: LoginUser, verified: Verified, rememberDevice: boolean, ctx: RequestContext): Promise<TokenGrant> {
    const { amr, device } = verified
    audit.record('login.succeeded', user.id, ctx, { amr, ...(device === undefined ? {} : { trusted_device: true }) })
    const claims = { sub: user.id, username: user.username, amr, ...(device === undefined ? {} : { remembered_device: true as const }) }
    const grant = loginGrant(claims, { tfaOn: hasTfaOn(user), mandatory: config.tfa, now: now() })
    const deviceToken = device?.deviceToken ?? (rememberDevice && verified.codeUsed && trustedDevices.enabled ? await trustedDevices.remember(user.id, ctx) : undefined)
    // Every login (not only "remember this device") makes the client a known device for the rate limit.
    const deviceCookie = deviceCookies.enabled ? deviceCookies.issue(user.id, user.username) : undefined
    const extras = { ...grant.extras, ...(deviceToken === undefined ? {} : { device_token: deviceToken }), ...(deviceCookie === undefined ? {} : { device_cookie: deviceCookie }) }
    return Object.keys(extras).length === 0 ? grant : { ...grant, extras }
  }
}

export type GrantFor = ReturnType<typeof createLoginGrants>

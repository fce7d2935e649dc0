/** Authentication Method Reference values (RFC 8176) this service issues; 'api_key' (not in RFC 8176) marks a token from POST /token. */
export type Amr = 'pwd' | 'otp' | 'sms' | 'mfa' | 'api_key'

/** A token that only lets its holder enrol in TFA (mandatory TFA, past the grace period). */
export const ENROLL_SCOPE = 'tfa:enroll'

export interface AccessTokenClaims {
  sub: string
  username: string
  amr: Amr[]
  scope?: typeof ENROLL_SCOPE
  /** The session the token belongs to (every login's token has one): ending it ends the token. */
  sid?: string
  /** When the user last proved who they are, in seconds (OIDC): the login, kept by every refresh. */
  auth_time?: number
  /** The API key a token from POST /token was exchanged for: revoking the key ends the token. */
  akid?: string
  /** The second factor was a remembered device, not a code (amr stays ["pwd"]: no mfa). */
  remembered_device?: true
  /** A unique id per token (RFC 7519), set when it is signed. */
  jti?: string
  /** RFC 9068: who the token was issued to; twofold itself, or the API key of POST /token. Set when signed. */
  client_id?: string
}

/** The client_id of tokens from a login (RFC 9068 §2.2). */
export const TWOFOLD_CLIENT_ID = 'twofold'

/** Fields a login adds beside the token, for the client to act on. */
export interface GrantExtras {
  scope?: typeof ENROLL_SCOPE
  tfa_enrollment_required?: true
  tfa_reminder?: string
  /** "Remember this device": the token that spares this device the code next time (rotated at each use). */
  device_token?: string
  /** Every password login: the signed device cookie that spares this device the username's shared rate limit. */
  device_cookie?: string
}

/**
 * What a successful authentication yields: the claims to sign, how long the token may live when
 * shorter than the configured lifetime, and the response's extra fields. Every route that hands
 * out a token issues one of these, through the one issuing path (plugins/auth.ts).
 */
export interface TokenGrant {
  claims: AccessTokenClaims
  maxTtlSeconds?: number
  extras?: GrantExtras
}

/** Tokens from an API key live at most this long: a revoked key's last token dies soon after. */
export const API_KEY_TOKEN_MAX_TTL_SECONDS = 900

export interface MandatoryTfa {
  required: boolean
  /** From this instant users without TFA may only enrol; before it they are reminded. */
  requiredFrom?: Date
}

/**
 * The grant of a password login. With mandatory TFA a user without it is reminded before the
 * date and, from it, may only enrol: they "must first enable MFA to gain further access".
 */
export function loginGrant (claims: AccessTokenClaims, { tfaOn, mandatory, now }: { tfaOn: boolean, mandatory: MandatoryTfa, now: number }): TokenGrant {
  if (tfaOn || !mandatory.required) return { claims }
  const { requiredFrom } = mandatory
  if (requiredFrom !== undefined && now < requiredFrom.getTime()) {
    const day = requiredFrom.toISOString().slice(0, 10)
    return { claims, extras: { tfa_reminder: `Two-factor authentication becomes mandatory on ${day}: enable it before then (POST /tfa/enable).` } }
  }
  return { claims: { ...claims, scope: ENROLL_SCOPE }, extras: { scope: ENROLL_SCOPE, tfa_enrollment_required: true } }
}

/** An API key's exchange: no code is asked, so the token says so and lives briefly. */
export const apiKeyGrant = (user: { id: string, username: string }, apiKeyId: string): TokenGrant => ({
  claims: { sub: user.id, username: user.username, amr: ['api_key'], akid: apiKeyId, client_id: apiKeyId, auth_time: Math.floor(Date.now() / 1000) },
  maxTtlSeconds: API_KEY_TOKEN_MAX_TTL_SECONDS
})

/** True for the token of an enrolment-only login: it gets a session, but no refresh token. */
export const isEnrolmentOnly = (grant: TokenGrant) => grant.claims.scope === ENROLL_SCOPE

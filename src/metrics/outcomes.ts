import type { SecurityEventType } from '../auth/audit.js'

/** What the audit trail said during one login request (heard through the audit observer). */
export interface LoginTrace { failure?: string, amr?: string[] }

/** A response's error, as the error hook saw it: the catalogue kind, or Fastify's validation flag. */
export interface SeenError { kind?: string, validation?: boolean }

/** Failures every counted route shares, by the catalogue kind of the error. */
function commonResult (status: number, error: SeenError | undefined): string {
  if (error?.kind === 'rateLimited') return 'rate_limited'
  if (error?.kind === 'overloaded') return 'shed'
  if (status === 400 || status === 413 || status === 415) return 'invalid_request'
  if (status === 503) return 'unavailable'
  return 'error'
}

export function secondFactorOf (amr: string[] | undefined): string {
  if (amr === undefined || !amr.includes('mfa')) return 'none'
  if (amr.includes('otp')) return 'totp'
  if (amr.includes('sms')) return 'sms'
  return 'recovery_code'
}

/**
 * A login's result from its status, its error and what it audited. A 401 "code required" is a
 * wrong code exactly when the service recorded a failed code for this request.
 */
export function loginResult (status: number, error: SeenError | undefined, trace: LoginTrace, tfaMethod: string | undefined): { result: string, secondFactor: string } {
  const factor = tfaMethod === 'totp' || tfaMethod === 'sms' ? tfaMethod : 'none'
  if (status === 200) return { result: 'success', secondFactor: secondFactorOf(trace.amr) }
  if (error?.kind === 'invalidCredentials') return { result: 'wrong_password', secondFactor: 'none' }
  if (error?.kind === 'tfaLocked' || trace.failure === 'locked') return { result: 'locked', secondFactor: factor }
  if (error?.kind === 'tfaRequired') {
    const wrong = trace.failure === 'code' || trace.failure === 'replayed'
    return { result: wrong ? 'wrong_code' : 'code_required', secondFactor: factor }
  }
  return { result: commonResult(status, error), secondFactor: 'none' }
}

/** POST /token/refresh and POST /token: success, a refused token or key, or a common failure. */
export function tokenResult (status: number, error: SeenError | undefined): string {
  if (status === 200) return 'success'
  if (error?.kind === 'invalidRefreshToken' || error?.kind === 'invalidApiKey') return 'invalid'
  return commonResult(status, error)
}

/** Audit events that are metrics by themselves. */
export const COUNTED_EVENTS = new Set<SecurityEventType>(['tfa.locked', 'sms.sent', 'sms.delivery_failed', 'sms.limit_reached', 'session.ended', 'session.refresh_reused'])

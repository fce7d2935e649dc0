import { STATUS_CODES } from 'node:http'

/** Shown when TFA is enabled, and as the refusal on an automation account: scripts can't type codes. */
export const AUTOMATION_WARNING = 'Two-factor authentication also applies to API logins: once it is on, every login ' +
  'needs a current code. Do not enable it on an account used by scripts or automated processes.'

/**
 * The catalogue of every error a client can see. Handlers throw these; the one error handler
 * (plugins/error-handler.ts) turns them into the envelope. Messages are part of the API contract.
 */
export const ErrorCatalogue = {
  validation: { status: 400, message: 'Request validation failed.' },
  passwordTooShort: { status: 400, message: 'Password must be at least 8 bytes long.' },
  passwordTooLong: { status: 400, message: 'Password must be at most 72 bytes of UTF-8 (bcrypt ignores anything longer).' },
  invalidToken: { status: 400, message: 'Invalid token.' },
  currentPasswordWrong: { status: 400, message: 'The current password is wrong.' },
  expiryNotInFuture: { status: 400, message: 'expires_at must be in the future.' },
  noSession: { status: 400, message: 'This access token belongs to no session (it came from an API key): revoke the key instead.' },
  loginMustStayProtected: { status: 400, message: 'Two-factor authentication is mandatory here: "login" must stay a protected action.' },
  invalidCredentials: { status: 401, message: 'Invalid username or password.' },
  // Exact text from the API this service replaces: its clients match on it byte for byte.
  tfaRequired: { status: 401, message: 'Additional authentications steps required.' },
  // Same wording for unknown, garbled, revoked and expired keys: a caller learns nothing about which.
  invalidApiKey: { status: 401, message: 'Invalid API key.' },
  // A receipt that is unknown, expired, spent, out of attempts or ended (lock, reset, new password): same words for all.
  loginReceiptInvalid: { status: 401, message: 'This login can no longer be completed: start the login again with your password.' },
  unauthenticated: { status: 401, message: 'A valid Bearer access token is required.' },
  // Same wording for unknown, garbled, expired, revoked and reused refresh tokens.
  invalidRefreshToken: { status: 401, message: 'Invalid or expired refresh token: log in again.' },
  invalidClient: { status: 401, message: 'Client authentication failed: send an introspection client\'s id and secret with HTTP Basic.' },
  registrationClosed: { status: 403, message: 'Registration is closed.' },
  adminRequired: { status: 403, message: 'This route is for administrators.' },
  adminMfaRequired: { status: 403, message: 'Administrators with two-factor authentication must log in with their code to use admin routes.' },
  enrollmentRequired: { status: 403, message: 'Two-factor authentication is mandatory: enable it (POST /tfa/enable, then /tfa/validate) and log in again.' },
  apiKeyMfaRequired: { status: 403, message: 'Two-factor authentication is on for this account: log in with your code to create API keys.' },
  // A leaked key must not become control of the account: its tokens only read their own account.
  apiKeyTokenRefused: { status: 403, message: 'This route does not accept access tokens obtained with an API key: log in with your password.' },
  adminTfaRequired: { status: 403, message: 'Administrators must use two-factor authentication: enable it (POST /tfa/enable, then /tfa/validate) and log in with your code.' },
  apiKeyFromApiKey: { status: 403, message: 'An access token obtained with an API key cannot create API keys: log in with your password.' },
  userGone: { status: 404, message: 'The user no longer exists.' },
  userNotFound: { status: 404, message: 'No user with this id.' },
  apiKeyNotFound: { status: 404, message: 'No API key with this id.' },
  trustedDeviceNotFound: { status: 404, message: 'No trusted device with this id.' },
  sessionNotFound: { status: 404, message: 'No session with this id.' },
  usernameTaken: { status: 409, message: 'Username is already taken.' },
  tfaAlreadyEnabled: { status: 409, message: 'Two-factor authentication is already enabled.' },
  tfaNotPending: { status: 409, message: 'No pending two-factor secret: call POST /tfa/enable first.' },
  tfaNotEnabled: { status: 409, message: 'Two-factor authentication is not enabled.' },
  // One method at a time, as users know it from other portals: switch the current one off to change it.
  tfaMethodActive: { status: 409, message: 'Two-factor authentication is already on with another method: disable it first (POST /tfa/disable), then enable the new one.' },
  smsNotPending: { status: 409, message: 'No phone number awaits verification: call POST /tfa/sms/phone first.' },
  smsNotEnabled: { status: 409, message: 'SMS two-factor authentication is not enabled.' },
  automationAccount: { status: 409, message: AUTOMATION_WARNING + ' This is an automation account: give its scripts an API key (POST /api-keys), or send {"confirm_automation": true} to enable it anyway.' },
  payloadTooLarge: { status: 413, message: 'Request body is too large.' },
  unsupportedMediaType: { status: 415, message: 'Unsupported media type: send application/json.' },
  rateLimited: { status: 429, message: 'Too many requests: retry later.' },
  smsThrottled: { status: 429, message: 'A code was sent recently: wait before asking for another one.' },
  tfaLocked: { status: 429, message: 'Too many failed codes: two-factor authentication is locked for this account, retry later.' },
  internal: { status: 500, message: 'Internal server error.' },
  smsNotConfigured: { status: 501, message: 'SMS is not configured on this server (SMS_TRANSPORT).' },
  overloaded: { status: 503, message: 'The service is busy: retry shortly.' },
  unavailable: { status: 503, message: 'A backing service is unavailable: retry shortly.' },
  revocationsUnavailable: { status: 503, message: 'Ended sessions cannot be checked right now: retry shortly.' },
  databaseNotReady: { status: 503, message: 'Not ready: database unreachable.' },
  storeNotReady: { status: 503, message: 'Not ready: store unreachable.' },
  nothingReady: { status: 503, message: 'Not ready: database and store unreachable.' },
  smsDeliveryFailed: { status: 503, message: 'The SMS could not be sent: retry shortly.' },
  // Hardening (issue 17).
  malformedRequest: { status: 400, message: 'Malformed HTTP request.' },
  badUrl: { status: 400, message: 'Malformed URL.' },
  smsCountryNotAllowed: { status: 400, message: 'SMS to this number\'s country is not offered here: use an authenticator app.' },
  requestTimeout: { status: 408, message: 'The request took too long to arrive.' },
  headersTooLarge: { status: 431, message: 'Request headers are too large.' },
  smsQuotaReached: { status: 429, message: 'Too many SMS have been sent recently: retry later.' }
} as const satisfies Record<string, { status: number, message: string }>

export type ErrorName = keyof typeof ErrorCatalogue

export interface AppErrorOptions {
  /** Sent as Retry-After (429, 503). */
  retryAfterSeconds?: number
  /** Extra response headers, e.g. which second factor a 401 asks for. */
  headers?: Record<string, string>
}

/** An error a client may see; its message is the catalogue's, never a call site's. */
export class AppError extends Error {
  readonly statusCode: number
  readonly retryAfterSeconds?: number
  readonly headers?: Record<string, string>
  constructor (readonly kind: ErrorName, options: AppErrorOptions = {}) {
    // An answer, not a fault: nothing reads its stack (the error handler sends the envelope and
    // logs no AppError), and capturing one walked the await chain of every 401, the common
    // refusal of a login (README "Performance").
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(ErrorCatalogue[kind].message)
    Error.stackTraceLimit = limit
    this.name = 'AppError'
    this.statusCode = ErrorCatalogue[kind].status
    this.retryAfterSeconds = options.retryAfterSeconds
    this.headers = options.headers
  }
}

/**
 * The short-lived store (Redis) failed: answered 503, never a silent success. Database failures
 * are recognised where the Prisma client lives (plugins/prisma.ts, through unavailableWhen).
 */
export class DependencyUnavailableError extends Error {
  readonly dependency = 'store'
  constructor (options?: { cause?: unknown }) {
    super('store unavailable', options)
    this.name = 'DependencyUnavailableError'
  }
}

export interface ErrorBody {
  error: { message: string, code: number, identity: null, title: string }
}

export function errorBody (status: number, message: string): ErrorBody {
  // Key order matters: clients of the API this replaces compare the body byte for byte.
  return { error: { message, code: status, identity: null, title: STATUS_CODES[status] ?? 'Error' } }
}

import { Type } from '@sinclair/typebox'

/**
 * No C0 control character nor DEL: PostgreSQL refuses NUL in text (a 500 otherwise), and the
 * others have no business in a name shown to people. For every string input that is stored.
 */
export const NO_CONTROL_CHARACTERS = '^[^\\u0000-\\u001F\\u007F]*$'

/** A stored, human-readable string input: `options` plus the control-character rule. */
export const storedText = (options: { minLength?: number, maxLength: number, description?: string }) =>
  Type.String({ ...options, pattern: NO_CONTROL_CHARACTERS })

export const UsernameSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9._@-]+$',
  description: 'Case-insensitive; stored lower-case.'
})

/**
 * A password as typed. The 8–72 byte rule is checked in code (bytes, not characters); the
 * schema only caps what is read.
 */
export const passwordInput = (description?: string) => Type.String({ minLength: 1, maxLength: 1024, ...(description === undefined ? {} : { description }) })

export const TotpSchema = Type.String({
  maxLength: 16,
  description: 'The current 6-digit code: from the authenticator app, or with SMS as the method the code sent by SMS (spaces are ignored).',
  examples: ['123456']
})

export const RecoveryCodeSchema = Type.String({
  maxLength: 64,
  description: 'One of the single-use recovery codes, e.g. `k7pq-2m9d-x4hz-0c8w` (case, dashes and spaces are ignored).'
})

export const BearerSecurity = [{ bearerAuth: [] }]
export const ApiKeySecurity = [{ apiKeyAuth: [] }]

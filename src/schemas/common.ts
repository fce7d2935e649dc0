import { Type, type TSchema } from '@sinclair/typebox'
import { STATUS_CODES } from 'node:http'
import { ErrorCatalogue } from '../errors.js'

/** The one error envelope. Property order is the serialisation order (clients compare bytes). */
export const ErrorSchema = Type.Object({
  error: Type.Object({
    message: Type.String(),
    code: Type.Integer(),
    identity: Type.Null(),
    title: Type.String()
  }, { additionalProperties: false })
}, { $id: 'Error', title: 'Error', description: 'Every error the service returns has this shape.', additionalProperties: false })

export const ErrorRef = Type.Ref('Error')

/** Response entries for the given statuses, all the envelope, each with its description. */
export function errorResponses (descriptions: Record<number, string>): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const [status, description] of Object.entries(descriptions)) {
    out[Number(status)] = Type.Ref('Error', { description })
  }
  return out
}

export const exampleError = (kind: keyof typeof ErrorCatalogue) => {
  const { status, message } = ErrorCatalogue[kind]
  return { error: { message, code: status, identity: null, title: STATUS_CODES[status] } }
}

export const TokenResponseSchema = Type.Object({
  access_token: Type.String({ description: 'A JWT (HS256) with `sub` (user id) and `amr` (RFC 8176).' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Lifetime in seconds.' }),
  scope: Type.Optional(Type.Literal('tfa:enroll', { description: 'Present when the token only allows enrolment in TFA (mandatory TFA).' })),
  tfa_enrollment_required: Type.Optional(Type.Boolean({ description: 'TFA is mandatory and this user has none: the token only works for GET /me, GET /tfa, /tfa/enable and /tfa/validate. Enrol, then log in again.' })),
  tfa_reminder: Type.Optional(Type.String({ description: 'TFA becomes mandatory on a date: remind the user to enable it.' }))
}, { $id: 'TokenResponse', additionalProperties: false })

export const UsernameSchema = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9._@-]+$',
  description: 'Case-insensitive; stored lower-case.'
})

export const UserKindSchema = Type.Union([Type.Literal('human'), Type.Literal('automation')], {
  description: '`automation` for an account used by scripts: enabling TFA on it then needs `confirm_automation` (default `human`).'
})

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

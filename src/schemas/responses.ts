import { Type, type TSchema } from '@sinclair/typebox'
import { STATUS_CODES } from 'node:http'
import { ErrorCatalogue, type ErrorName } from '../errors.js'

/** The one error envelope. Property order is the serialisation order (clients compare bytes). */
export const ErrorSchema = Type.Object({
  error: Type.Object({
    message: Type.String(),
    code: Type.Integer(),
    identity: Type.Null(),
    title: Type.String()
  }, { additionalProperties: false })
}, { $id: 'Error', title: 'Error', description: 'Every error the service returns has this shape.', additionalProperties: false })

/** Response entries for the given statuses, all the envelope, each with its description. */
export function errorResponses (descriptions: Record<number, string>): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const [status, description] of Object.entries(descriptions)) {
    out[Number(status)] = Type.Ref('Error', { description })
  }
  return out
}

export const exampleError = (kind: ErrorName) => {
  const { status, message } = ErrorCatalogue[kind]
  return { error: { message, code: status, identity: null, title: STATUS_CODES[status] } }
}

// The descriptions every protected route shares, declared once.
export const UNAUTHENTICATED = { 401: 'Missing, invalid or expired access token.' }
export const ENROLMENT_ONLY = { 403: 'An enrolment-only token (mandatory TFA): enable TFA first; or a token from an API key, which may only read its own account.' }
export const NOT_FOR_API_KEYS = { 403: 'A token from an API key: it may only read its own account (log in with your password).' }
export const CODE_LOCKED = { 429: 'Too many requests, or the second factor is locked after repeated wrong codes (`Retry-After`).' }

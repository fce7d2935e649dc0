import type { FastifyRequest } from 'fastify'
import type { RequestContext } from '../auth/audit.js'

/** What the audit trail records about the caller (client IP honours TRUST_PROXY). */
export const contextOf = (request: FastifyRequest): RequestContext => ({ ip: request.ip, userAgent: request.headers['user-agent'] })

/**
 * A preValidation hook turning the named query parameters from text into integers. The app's Ajv
 * does not coerce (a JSON body keeps its types), so without it `?limit=5` is "not an integer".
 */
export function integerQuery (...names: string[]) {
  return async function coerceIntegerQuery (request: FastifyRequest) {
    const query = request.query as Record<string, unknown>
    for (const name of names) {
      const value = query[name]
      if (typeof value === 'string' && /^-?[0-9]{1,16}$/.test(value)) query[name] = Number(value)
    }
  }
}

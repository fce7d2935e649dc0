import type { FastifyRequest } from 'fastify'
import type { RequestContext } from '../auth/audit.js'

/**
 * What the audit trail records about the caller (client IP honours TRUST_PROXY), and the
 * session of its token, which "end the other sessions" keeps.
 */
export const contextOf = (request: FastifyRequest): RequestContext => ({ ip: request.ip, userAgent: request.headers['user-agent'], sessionId: request.user?.sid })

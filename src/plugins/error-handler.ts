import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { AppError, DependencyUnavailableError, ErrorCatalogue, errorBody } from '../errors.js'
import { Prisma } from '../generated/prisma/client.js'

// Fastify's own client errors keep their status; each gets the catalogue's wording.
const FASTIFY_CODES: Record<string, keyof typeof ErrorCatalogue> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payloadTooLarge',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupportedMediaType',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation'
}

// Driver adapter failures that mean "can't talk to the database", not "the query was wrong".
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TlsConnectionError', 'DatabaseDoesNotExist', 'DatabaseAccessDenied', 'AuthenticationFailed'])

/**
 * Prisma's P1xxx: the database is unreachable, gone or timing out; P2024: no pooled connection
 * came free; P2010 (a raw query failed) when the driver says the database could not be reached.
 */
function isDatabaseUnavailable (error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientInitializationError) return true
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false
  if (error.code.startsWith('P1') || error.code === 'P2024') return true
  const kind = (error.meta as { driverAdapterError?: { cause?: { kind?: unknown } } } | undefined)?.driverAdapterError?.cause?.kind
  return error.code === 'P2010' && typeof kind === 'string' && UNREACHABLE_KINDS.has(kind)
}

/** The one place errors become responses: always the envelope, never a 5xx detail. */
export default fp(async function errorHandlerPlugin (app) {
  app.setErrorHandler(function handleError (error: FastifyError | AppError | DependencyUnavailableError, request, reply) {
    if (error instanceof AppError) {
      if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
      if (error.headers !== undefined) reply.headers(error.headers)
      return reply.code(error.statusCode).send(errorBody(error.statusCode, error.message))
    }
    if (error instanceof DependencyUnavailableError || isDatabaseUnavailable(error)) return unavailable(error)
    const fastifyError = error as FastifyError
    if (fastifyError.validation) {
      const message = `${fastifyError.validationContext ?? 'request'}${fastifyError.message.replace(/^(body|querystring|params|headers)/, '')}`
      return reply.code(400).send(errorBody(400, `Invalid ${message}.`.replace('..', '.')))
    }
    const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined
    if (known) return reply.code(ErrorCatalogue[known].status).send(errorBody(ErrorCatalogue[known].status, ErrorCatalogue[known].message))
    const status = fastifyError.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Other client errors raised by Fastify itself (malformed JSON…): their message is safe.
      return reply.code(status).send(errorBody(status, fastifyError.message))
    }
    // The rate limiter talks to Redis itself; while Redis is away its failures land here.
    if (app.redis !== undefined && app.redis.status !== 'ready') return unavailable(error)
    request.log.error({ err: error }, 'unhandled error')
    return reply.code(500).send(errorBody(500, ErrorCatalogue.internal.message))

    function unavailable (err: Error) {
      request.log.error({ err }, 'dependency unavailable')
      reply.header('retry-after', '5')
      return reply.code(503).send(errorBody(503, ErrorCatalogue.unavailable.message))
    }
  })

  app.setNotFoundHandler(function notFound (request, reply) {
    return reply.code(404).send(errorBody(404, `Route ${request.method} ${request.url.split('?')[0]} not found.`))
  })
}, { name: 'error-handler' })

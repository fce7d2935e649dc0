import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { AppError, DependencyUnavailableError, ErrorCatalogue, errorBody, type ErrorName } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Registered by the plugin that owns a client (database, Redis): errors for which
     * `predicate` holds mean that dependency is away, and are answered 503 instead of 500.
     */
    unavailableWhen: (predicate: (error: Error) => boolean) => void
  }
}

// Fastify's own client errors keep their status; each gets the catalogue's wording.
const FASTIFY_CODES: Record<string, ErrorName> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payloadTooLarge',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupportedMediaType',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation'
}

/** The one place errors become responses: always the envelope, never a 5xx detail. */
export default fp(async function errorHandlerPlugin (app) {
  const unavailable: Array<(error: Error) => boolean> = [(error) => error instanceof DependencyUnavailableError]
  app.decorate('unavailableWhen', (predicate: (error: Error) => boolean) => { unavailable.push(predicate) })

  app.setErrorHandler(function handleError (error: FastifyError | AppError, request, reply) {
    if (error instanceof AppError) {
      if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds))
      if (error.headers !== undefined) reply.headers(error.headers)
      return reply.code(error.statusCode).send(errorBody(error.statusCode, error.message))
    }
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
    if (unavailable.some(away => away(error))) {
      request.log.error({ err: error }, 'dependency unavailable')
      reply.header('retry-after', '5')
      return reply.code(503).send(errorBody(503, ErrorCatalogue.unavailable.message))
    }
    request.log.error({ err: error }, 'unhandled error')
    return reply.code(500).send(errorBody(500, ErrorCatalogue.internal.message))
  })

  app.setNotFoundHandler(function notFound (request, reply) {
    return reply.code(404).send(errorBody(404, `Route ${request.method} ${request.url.split('?')[0]} not found.`))
  })
}, { name: 'error-handler' })

import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Probes: a success is logged at debug only (a container healthcheck alone would write a line every few seconds). */
    quietLog?: boolean
  }
}

/**
 * One line per request, written when it ends (Fastify's own logging writes two: one at the
 * start, one at the end). The start is at debug, so a request that never ends can still be
 * traced. The URL is logged without its query string: a query may carry a search term.
 */
export default fp(async function requestLogPlugin (app) {
  app.addHook('onRequest', (request, _reply, done) => {
    request.log.debug({ method: request.method, url: request.url.split('?')[0] }, 'request received')
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const line = {
      method: request.method,
      url: request.url.split('?')[0],
      route: request.routeOptions.url,
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
      ip: request.ip
    }
    // A failing probe is news (warn); a passing one is noise (debug).
    if (reply.statusCode >= 500) request.log.warn(line, 'request completed')
    else if (request.routeOptions.config.quietLog === true) request.log.debug(line, 'request completed')
    else request.log.info(line, 'request completed')
    done()
  })
}, { name: 'request-log' })

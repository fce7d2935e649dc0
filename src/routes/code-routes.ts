import type { FastifyInstance } from 'fastify'

/**
 * Route options of the routes that take or send second-factor codes. Per IP before
 * authentication, per user after it: code guessing (and asking for codes) is capped both ways.
 * `enrolRoute` also admits an enrolment-only token (mandatory TFA).
 */
export function codeRouteOptions (app: FastifyInstance) {
  const { tfaMax, loginWindowMs } = app.config.rateLimit
  const codeRoute = {
    onRequest: [app.limitBy('tfa-ip', (request) => request.ip, { max: tfaMax, timeWindow: loginWindowMs }), app.authenticate],
    config: {} as { allowEnrollmentToken?: boolean },
    preHandler: [app.limitBy('tfa-user', (request) => request.user.sub, { max: tfaMax, timeWindow: loginWindowMs })]
  }
  return { codeRoute, enrolRoute: { ...codeRoute, config: { allowEnrollmentToken: true } } }
}

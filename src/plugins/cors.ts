import fp from 'fastify-plugin'
import cors from '@fastify/cors'

/**
 * Frontends on other origins (CORS_ORIGINS). Off unless configured: a browser page elsewhere
 * can't read any answer. The login's headers are exposed, or a frontend could not see that a
 * code is wanted (X-TFA-Method), continue without the password (X-TFA-Receipt) or wait
 * (Retry-After). The preflight is answered in onRequest, before any route's hooks, so it costs
 * neither PostgreSQL nor Redis.
 */
export default fp(async function corsPlugin (app) {
  const { origins, credentials } = app.config.cors
  if (origins.length === 0) return
  await app.register(cors, {
    origin: origins,
    credentials,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Twofold-Session'],
    exposedHeaders: ['X-TFA-Method', 'X-TFA-Receipt', 'Retry-After'],
    maxAge: 600,
    strictPreflight: true
  })
}, { name: 'cors', dependencies: ['config'] })

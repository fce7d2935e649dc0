import Fastify, { LogController, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './config/config.js'
import adminBootstrapPlugin from './plugins/admin-bootstrap.js'
import auditPlugin from './plugins/audit.js'
import auditRetentionPlugin from './plugins/audit-retention.js'
import browserSessionPlugin from './plugins/browser-session.js'
import authPlugin from './plugins/auth.js'
import configPlugin from './plugins/config.js'
import corsPlugin from './plugins/cors.js'
import errorHandlerPlugin from './plugins/error-handler.js'
import metricsPlugin from './plugins/metrics.js'
import passwordsPlugin from './plugins/passwords.js'
import prismaPlugin from './plugins/prisma.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import requestLogPlugin from './plugins/request-log.js'
import revocationsPlugin from './plugins/revocations.js'
import secondFactorPlugin from './plugins/second-factor.js'
import servicesPlugin from './plugins/services.js'
import sessionsPlugin from './plugins/sessions.js'
import storePlugin from './plugins/store.js'
import swaggerPlugin from './plugins/swagger.js'
import adminRoutes from './routes/admin.js'
import apiKeyRoutes from './routes/api-keys.js'
import healthRoutes from './routes/health.js'
import homeRoutes from './routes/home.js'
import introspectRoutes from './routes/introspect.js'
import loginRoutes from './routes/login.js'
import tfaEnrolmentRoutes from './routes/tfa/enrolment.js'
import tfaEventRoutes from './routes/tfa/events.js'
import tfaManageRoutes from './routes/tfa/manage.js'
import tfaSettingsRoutes from './routes/tfa/settings.js'
import tfaSmsRoutes from './routes/tfa/sms.js'
import tfaTrustedDeviceRoutes from './routes/tfa/trusted-devices.js'
import sessionRoutes from './routes/sessions.js'
import userRoutes from './routes/users.js'
import uiRoutes from './plugins/ui.js'
import { clientErrorHandler, connectionOptions, frameworkErrors } from './http/server-options.js'
import wellKnownRoutes from './routes/well-known.js'
import { SHARED_SCHEMAS } from './schemas/index.js'
import { buildValidator } from './validation.js'

export interface BuildOptions {
  /** Where logs go (tests capture them); stdout by default. */
  logStream?: NodeJS.WritableStream
  /** The clock for TOTP and counters; tests move it instead of sleeping. */
  now?: () => number
  /**
   * Routes and schemas only, to generate the OpenAPI document (src/cli/openapi.ts): no database is
   * started, migrated or reached, and any use of it throws. The document is a property of the
   * code; booting the embedded PostgreSQL for it took most of `npm run openapi:check`.
   */
  documentOnly?: boolean
}

// Secrets that may travel in a request or response; pino replaces them before anything is written.
export const REDACTED_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization',
  'password', '*.password', 'current_password', '*.current_password', 'new_password', '*.new_password',
  'totp', '*.totp', 'recovery_code', '*.recovery_code', 'recovery_codes', '*.recovery_codes',
  'secret', '*.secret', 'otpauth_url', '*.otpauth_url', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'token', '*.token',
  'receipt', '*.receipt', 'device_token', '*.device_token', 'res.headers["x-tfa-receipt"]',
  'device_cookie', '*.device_cookie', 'res.headers["set-cookie"]'
]

export async function buildApp (config: Config, options: BuildOptions = {}) {
  const logger: FastifyServerOptions['logger'] = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(options.logStream ? { stream: options.logStream } : {})
  }
  const app = Fastify({
    logger,
    trustProxy: config.trustProxy,
    bodyLimit: 64 * 1024,
    schemaController: { compilersFactory: { buildValidator } },
    // Boot runs the migrations (and may start the embedded PostgreSQL) inside the prisma plugin:
    // on a loaded machine that outlasts Fastify's 10 s default for a plugin.
    pluginTimeout: 60_000,
    return503OnClosing: true,
    // plugins/request-log.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    ...connectionOptions(config.http),
    clientErrorHandler,
    frameworkErrors
  }).withTypeProvider<TypeBoxTypeProvider>()
  // JSON only: Fastify also parses text/plain, which would reach validation as a string (400, not 415).
  app.removeContentTypeParser('text/plain')
  // A keep-alive connection still serving a request when close() starts would hold the server
  // open for its keep-alive timeout (72 s) after the response: that response closes it instead.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  // Callback style: an async hook here would cost every response a promise.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema)

  // Infrastructure first (each declares what it needs), then the domain over it, then HTTP.
  await app.register(configPlugin, { config, now: options.now ?? Date.now })
  await app.register(errorHandlerPlugin)
  await app.register(requestLogPlugin)
  await app.register(corsPlugin)
  await app.register(browserSessionPlugin)
  await app.register(storePlugin)
  await app.register(prismaPlugin, { connect: options.documentOnly !== true })
  await app.register(auditPlugin)
  await app.register(passwordsPlugin)
  // Before every route (it sees them as they are added) and after what it observes.
  await app.register(metricsPlugin)
  await app.register(auditRetentionPlugin)
  await app.register(revocationsPlugin)
  await app.register(authPlugin)
  await app.register(rateLimitPlugin)
  await app.register(secondFactorPlugin)
  await app.register(sessionsPlugin)
  await app.register(servicesPlugin)
  await app.register(adminBootstrapPlugin)
  await app.register(swaggerPlugin)

  await app.register(healthRoutes)
  await app.register(homeRoutes)
  await app.register(userRoutes)
  await app.register(loginRoutes)
  await app.register(sessionRoutes)
  await app.register(tfaEnrolmentRoutes)
  await app.register(tfaManageRoutes)
  await app.register(tfaSettingsRoutes)
  await app.register(tfaEventRoutes)
  await app.register(tfaSmsRoutes)
  await app.register(tfaTrustedDeviceRoutes)
  await app.register(adminRoutes, { prefix: '/admin' })
  await app.register(apiKeyRoutes)
  await app.register(wellKnownRoutes)
  await app.register(introspectRoutes)
  await app.register(uiRoutes)
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>

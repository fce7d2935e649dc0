import fp from 'fastify-plugin'
import type { Config } from '../config/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** The service's clock, injectable so tests can cross TOTP step boundaries without sleeping. */
    now: () => number
  }
}

export default fp<{ config: Config, now: () => number }>(async function configPlugin (app, opts) {
  app.decorate('config', opts.config)
  app.decorate('now', opts.now)
}, { name: 'config' })

import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config/config.js'
import { resolveLocalSecrets } from './config/local-secrets.js'

async function main () {
  let config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  const bootLog = pino({ level: config.logLevel })
  config = await resolveLocalSecrets(config, bootLog)
  const app = await buildApp(config)

  // In-flight requests finish (Fastify answers new ones 503 while closing), then clients close.
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an uncaught error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })

  await app.listen({ port: config.port, host: config.host })
}

await main()

import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config/config.js'
import { resolveLocalSecrets } from './config/local-secrets.js'
import { StartupError } from './startup-error.js'

// Everything the process writes is a JSON line, on stdout; only a failed start goes to stderr,
// as one line (still JSON), so a supervisor's log shows why without a stack to read through.
const fatalLog = pino({ base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }))

function stop (err: unknown): never {
  if (err instanceof ConfigError) fatalLog.fatal({ problems: err.problems }, err.message)
  else if (err instanceof StartupError) fatalLog.fatal(err.message)
  else fatalLog.fatal({ err }, `Cannot start: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
}

async function main () {
  let config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    stop(err)
  }
  const bootLog = pino({ level: config.logLevel })
  // Node prints warnings (deprecations, experimental features) as plain text on stderr: as log lines instead.
  process.removeAllListeners('warning')
  process.on('warning', (warning) => { bootLog.warn({ warning: { name: warning.name, code: (warning as { code?: string }).code, message: warning.message } }, 'process warning') })

  let app
  try {
    config = await resolveLocalSecrets(config, bootLog)
    app = await buildApp(config)
  } catch (err) {
    stop(err)
  }

  // In-flight requests finish (Fastify answers new ones 503 while closing), then clients close.
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an uncaught error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })

  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await app.close().catch(() => {})
    stop(err)
  }
}

await main()

// `npm run admin:create -- <username>`: creates the first administrator (or promotes an existing
// user). The password comes from standard input (piped) or a hidden prompt, never argv, so it
// stays out of shell history and process lists. With the embedded database, stop the server
// first (PGlite serves one process) or use ADMIN_USERNAME + ADMIN_PASSWORD at start.
import { PrismaPg } from '@prisma/adapter-pg'
import { read } from 'read'
import { ensureAdmin } from '../auth/admin.js'
import { createPasswordHasher } from '../auth/passwords.js'
import { ConfigError, loadConfig } from '../config/config.js'
import { startEmbeddedPostgres } from '../db/embedded-postgres.js'
import { migrate } from '../db/migrate.js'
import { PrismaClient } from '../generated/prisma/client.js'

async function readPassword (): Promise<string> {
  if (!process.stdin.isTTY) {
    let input = ''
    for await (const chunk of process.stdin) input += String(chunk)
    return input.replace(/\r?\n$/, '')
  }
  // At a terminal: a prompt that echoes nothing while the password is typed (Ctrl-C rejects).
  try {
    return await read({ prompt: 'Password:', silent: true })
  } finally {
    process.stdout.write('\n') // the Enter (or Ctrl-C) was not echoed either
  }
}

try {
  const username = process.argv[2]
  if (username === undefined || !/^[A-Za-z0-9._@-]{1,64}$/.test(username)) {
    throw new Error('usage: npm run admin:create -- <username>   (password on stdin or at the prompt)')
  }
  const config = loadConfig(process.env)
  const password = await readPassword()
  const embedded = config.databaseUrl === undefined ? await startEmbeddedPostgres(config.dataDir) : undefined
  const connectionString = config.databaseUrl ?? embedded!.connectionString
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString, max: 1 }) })
  try {
    await migrate(connectionString)
    const outcome = await ensureAdmin({ prisma, passwords: createPasswordHasher({ cost: config.bcryptCost, maxPending: 1 }) }, username, password)
    console.log({
      created: `Administrator ${username} created.`,
      promoted: `${username} already existed and is now an administrator (password unchanged).`,
      unchanged: `${username} is already an administrator.`,
      taken: `${username} exists and was not promoted.`
    }[outcome])
  } finally {
    await prisma.$disconnect()
    await embedded?.stop()
  }
} catch (err) {
  console.error(err instanceof ConfigError || err instanceof Error ? err.message : err)
  process.exitCode = 1
}

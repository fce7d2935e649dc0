import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

export interface EmbeddedPostgres {
  connectionString: string
  stop: () => Promise<void>
}

/**
 * PostgreSQL compiled to WebAssembly (PGlite), served on a loopback port so the same Prisma pg
 * adapter, schema and migrations serve both this mode and a real server. One process only:
 * PGlite runs queries one at a time, which is what a single-instance default needs.
 */
export async function startEmbeddedPostgres (dataDir: string): Promise<EmbeddedPostgres> {
  const dir = path.resolve(dataDir, 'pglite')
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const db = await PGlite.create(dir)
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 8 })
  await server.start()
  return {
    connectionString: `postgresql://postgres@${server.getServerConn()}/postgres`,
    async stop () {
      await server.stop()
      await db.close()
    }
  }
}

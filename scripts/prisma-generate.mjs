#!/usr/bin/env node
// Generates the Prisma client offline. `prisma generate` never runs the schema engine, but the
// CLI insists on finding (or downloading) its native binary first; where that binary is absent
// and can't be downloaded (air-gapped machines, CI here), any executable satisfies the check.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)
const enginesDir = path.dirname(require.resolve('@prisma/engines/package.json'))
const hasNativeEngine = existsSync(enginesDir) && readdirSync(enginesDir).some(name => name.startsWith('schema-engine'))

const env = { ...process.env }
if (!env.PRISMA_SCHEMA_ENGINE_BINARY && !hasNativeEngine) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = path.resolve(import.meta.dirname, 'no-schema-engine.sh')
}
const cli = require.resolve('prisma/build/index.js')
const { status } = spawnSync(process.execPath, [cli, 'generate', ...process.argv.slice(2)], { env, stdio: 'inherit' })
process.exit(status ?? 1)

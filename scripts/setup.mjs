#!/usr/bin/env node
// Runs before `npm start`: on a fresh clone it installs dependencies, generates the Prisma
// client and builds, so that `npm start` alone brings the service up. Each step is skipped
// when its output is already there and newer than its inputs.
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })
const mtime = (p) => existsSync(p) ? statSync(p).mtimeMs : 0
const newest = (dir) => {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, mtime(path.join(entry.parentPath, entry.name)))
  }
  return latest
}

if (mtime(path.join(root, 'node_modules/.package-lock.json')) < mtime(path.join(root, 'package-lock.json'))) {
  run('npm ci --no-audit --no-fund') // postinstall generates the Prisma client
} else if (mtime(path.join(root, 'src/generated/prisma/client.ts')) < mtime(path.join(root, 'prisma/schema.prisma'))) {
  run('node scripts/prisma-generate.mjs')
}
if (mtime(path.join(root, 'dist/server.js')) < newest(path.join(root, 'src'))) run('npm run -s build')

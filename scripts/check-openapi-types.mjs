#!/usr/bin/env node
// Part of `npm run openapi:check`: regenerates the client types from the committed
// openapi/openapi.json into a scratch file, with the same command as `npm run openapi:types`,
// and fails when the committed openapi/client/schema.d.ts differs from them.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const document = 'openapi/openapi.json'
const committedPath = 'openapi/client/schema.d.ts'

const require = createRequire(import.meta.url)
const cli = path.join(path.dirname(require.resolve('openapi-typescript/package.json')), 'bin/cli.js')
const scratch = mkdtempSync(path.join(os.tmpdir(), 'twofold-openapi-types-'))
const generatedPath = path.join(scratch, 'schema.d.ts')
const TIMEOUT_MS = 120_000

process.exitCode = check()

function check () {
  try {
    // cwd is the repository, so the generator reads the same redocly.yaml as `npm run openapi:types`.
    // It reads only local files: a run that outlasts the timeout is stuck, and says so.
    const run = spawnSync(process.execPath, [cli, document, '-o', generatedPath], { cwd: root, encoding: 'utf8', timeout: TIMEOUT_MS })
    if (run.status !== 0) {
      process.stderr.write((run.stdout ?? '') + (run.stderr ?? ''))
      const why = run.error?.code === 'ETIMEDOUT' ? `did not finish within ${TIMEOUT_MS / 1000} s` : `failed (${run.error?.message ?? `exit ${run.status ?? run.signal}`})`
      console.error(`openapi-typescript ${why} on ${document}.`)
      return 1
    }
    const generated = readFileSync(generatedPath, 'utf8')
    let committed
    try {
      committed = readFileSync(path.join(root, committedPath), 'utf8')
    } catch {
      console.error(`${committedPath} is missing: run \`npm run openapi\` and commit the result.`)
      return 1
    }
    if (committed !== generated) {
      const a = committed.split('\n')
      const b = generated.split('\n')
      let line = 0
      while (line < a.length && line < b.length && a[line] === b[line]) line++
      console.error(`${committedPath} is out of date with ${document}: run \`npm run openapi\` and commit the result.`)
      console.error(`First difference at line ${line + 1}:`)
      console.error(`  committed: ${a[line] ?? '<end of file>'}`)
      console.error(`  generated: ${b[line] ?? '<end of file>'}`)
      return 1
    }
    console.log(`${committedPath} matches ${document}.`)
    return 0
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

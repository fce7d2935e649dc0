import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))

function newestSource (): number {
  let latest = 0
  for (const entry of readdirSync(path.join(ROOT, 'src'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs)
  }
  return latest
}

/**
 * Path of a built file (relative to dist/), for tests of what ships. Built only when missing or
 * older than the sources: a rebuild while another test file runs the built server would rewrite
 * the files under it (in CI, the build before the tests makes this a no-op).
 */
export function builtFile (relative: string): string {
  const file = path.join(ROOT, 'dist', relative)
  if (!existsSync(file) || statSync(file).mtimeMs < newestSource()) {
    execSync('npm run -s build', { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] })
  }
  return file
}

// What the bench takes from the project itself: its production build, and its own TOTP code
// generator from that build, so the codes sent are made exactly the way the service checks them.
import { execSync } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { root } from './options.mjs'

/** `npm run build`: src/ compiled to dist/, which the servers run and the bench imports from. */
export function buildProject () {
  execSync('npm run -s build', { cwd: root, stdio: 'inherit' })
}

/**
 * `code(secret, atMs = now)`: the 6-digit TOTP code of `secret` at that instant, by
 * generateTotpCode in src/auth/totp.ts. Imported at run time, after the build: dist/ may not
 * exist before it, and should be the build of the source being measured.
 */
export async function loadTotpCode () {
  const { generateTotpCode } = await import(pathToFileURL(path.join(root, 'dist', 'auth', 'totp.js')).href)
  return (secret, at = Date.now()) => generateTotpCode(secret, at)
}

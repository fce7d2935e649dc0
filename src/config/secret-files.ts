import { readFileSync } from 'node:fs'

/**
 * Variables that hold a secret: each may instead name a file with `<NAME>_FILE` (Docker and
 * Kubernetes secrets are files), so the secret never sits in the process environment, where
 * `docker inspect` and /proc/<pid>/environ show it.
 */
export const SECRET_VARIABLES = [
  'DATABASE_URL', 'REDIS_URL', 'REDIS_PASSWORD', 'JWT_SECRET', 'JWT_SIGNING_KEY', 'JWT_VERIFICATION_KEYS',
  'TOTP_ENCRYPTION_KEY', 'TOTP_DECRYPTION_KEYS', 'ADMIN_PASSWORD', 'SMS_WEBHOOK_SECRET', 'INTROSPECTION_CLIENTS'
]

export interface SecretFileProblem { variable: string, detail: string }

/** The environment with each `<NAME>_FILE` read into `<NAME>`; problems name the variable, never the content. */
export function withSecretFiles (source: Record<string, string | undefined>, names: readonly string[]): { env: Record<string, string | undefined>, problems: SecretFileProblem[] } {
  const env = { ...source }
  const problems: SecretFileProblem[] = []
  for (const name of names) {
    const file = source[`${name}_FILE`]
    if (file === undefined || file === '') continue
    if ((source[name] ?? '') !== '') {
      problems.push({ variable: `${name}_FILE`, detail: `can't be combined with ${name}: set one of them` })
      continue
    }
    try {
      // One trailing newline is what `echo secret > file` leaves: not part of the secret.
      env[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
    } catch (err) {
      problems.push({ variable: `${name}_FILE`, detail: `names a file that can't be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` })
    }
  }
  return { env, problems }
}

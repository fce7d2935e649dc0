import { StartupError } from '../startup-error.js'

// Socket and DNS failures: the address is wrong or the server is away.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE'])
// SQLSTATE: 28xxx authentication, 3D000 no such database, 08xxx connection exceptions.
const REFUSALS: Array<[RegExp, (target: string) => string]> = [
  [/^28/, (target) => `the database at ${target} refused the credentials`],
  [/^3D000$/, (target) => `names a database that does not exist (${target})`],
  [/^08/, (target) => `the database at ${target} refused the connection`]
]

/** Where the URL points, for a message: host, port and database, never the user or password. */
export function describeTarget (connectionString: string): string | undefined {
  if (!URL.canParse(connectionString)) return undefined
  const url = new URL(connectionString)
  return `${url.hostname}:${url.port === '' ? '5432' : url.port}${url.pathname}`
}

/**
 * A failure to reach the database at start, as the one line an operator needs (which variable,
 * which host, what went wrong); undefined for anything else, which keeps its stack.
 */
export function databaseStartError (err: unknown, connectionString: string): StartupError | undefined {
  const target = describeTarget(connectionString)
  if (target === undefined) return new StartupError('DATABASE_URL', 'not a valid URL (expected postgresql://user:password@host:5432/database)', { cause: err })
  const e = err as { code?: unknown, message?: unknown, errors?: unknown }
  const code = typeof e?.code === 'string' ? e.code : undefined
  if (code !== undefined && NETWORK_CODES.has(code)) return new StartupError('DATABASE_URL', `can't reach the database at ${target} (${code})`, { cause: err })
  // Several addresses for one name (IPv4 and IPv6): Node reports an AggregateError without a code.
  if (err instanceof AggregateError) return new StartupError('DATABASE_URL', `can't reach the database at ${target} (${[...new Set(err.errors.map(x => (x as { code?: string }).code ?? 'error'))].join(', ')})`, { cause: err })
  if (typeof e?.message === 'string' && /timeout expired|Connection terminated/i.test(e.message)) {
    return new StartupError('DATABASE_URL', `can't reach the database at ${target} (no answer in time)`, { cause: err })
  }
  for (const [pattern, describe] of REFUSALS) {
    if (code !== undefined && pattern.test(code)) return new StartupError('DATABASE_URL', `${describe(target)} (SQLSTATE ${code})`, { cause: err })
  }
  return undefined
}

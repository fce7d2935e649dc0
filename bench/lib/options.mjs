// The bench's settings: CLI flags (`--smoke`, `--duration N`) and environment variables.
import os from 'node:os'
import path from 'node:path'

export const root = path.resolve(import.meta.dirname, '..', '..')
export const benchDir = path.resolve(import.meta.dirname, '..')

const argv = process.argv.slice(2)
export const smoke = argv.includes('--smoke')
const durationArg = argv.indexOf('--duration')
const onlyArg = argv.indexOf('--only')
/** `--only two-step,retry-storm`: the scenarios to run (all when not given); see bench/run.mjs. */
export const only = onlyArg >= 0 ? new Set(argv[onlyArg + 1].split(',')) : null
/** Seconds per scenario. */
export const D = durationArg >= 0 ? Number(argv[durationArg + 1]) : (smoke ? 1 : 6)
// As many logins in flight as the service lets wait for a hash (its MAX_PENDING_HASHES default),
// and the ceiling measured at the same concurrency.
export const CONNECTIONS = Number(process.env.MAX_PENDING_HASHES ?? 2 * Math.min(os.availableParallelism(), Number(process.env.UV_THREADPOOL_SIZE ?? 4) || 4))
export const COST = Number(process.env.BCRYPT_COST ?? 10)
export const CHEAP_CONNECTIONS = 32
export const ADMIN_URL = process.env.BENCH_DATABASE_ADMIN_URL ?? process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const PASSWORD = 'bench-password-123'

/** The last thing the bench said it is doing (names the CPU profiles of BENCH_CPU_PROF). */
export let lastLog = ''
export const log = (msg) => { lastLog = msg; process.stderr.write(`[bench] ${msg}\n`) }
/** How the service under test signs its access tokens (EdDSA, its default; ES256 or HS256 to compare). */
export const JWT_ALGORITHM = process.env.BENCH_JWT_ALGORITHM ?? 'EdDSA'

import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test as TapTest } from 'tap'
import { Redis } from 'ioredis'
import { createTestDatabase, freePort, TEST_REDIS_URL, testSigningKey } from './helper.js'
import { builtFile, ROOT as root } from './built.js'

// The test is of the built server, as `npm start` runs it.
const serverJs = builtFile('server.js')

interface Run { child: ChildProcess, stdout: () => string, stderr: () => string, exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }> }

function startServer (env: Record<string, string>): Run {
  const child = spawn(process.execPath, [serverJs], {
    cwd: root,
    // Only what the test gives: nothing leaks in from the developer's environment.
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }))
  })
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

t.test('a bad variable: exit code 1, the variable named on stderr', async (t) => {
  const run = startServer({ PORT: 'abc', NODE_ENV: 'test' })
  t.teardown(() => { run.child.kill('SIGKILL') })
  const { code } = await run.exited
  t.equal(code, 1)
  t.match(run.stderr(), /Invalid configuration: PORT/)
  t.notMatch(run.stderr(), /at .*\.js:\d+/, 'a message, not a stack trace')
})

/** stderr of a failed start: exactly one line, JSON, no stack. */
function oneFatalLine (t: TapTest, run: Run): { msg: string, problems?: Array<{ variable: string, detail: string }> } {
  const lines = run.stderr().split('\n').filter(Boolean)
  t.equal(lines.length, 1, `one line on stderr (${run.stderr().slice(0, 800)})`)
  const line = JSON.parse(lines[0] ?? '{}') as { level: number, msg: string, problems?: Array<{ variable: string, detail: string }> }
  t.equal(line.level, 60, 'a fatal log line')
  t.notMatch(run.stderr(), /\bat .*\.js:\d+/, 'a message, not a stack trace')
  for (const out of run.stdout().split('\n').filter(Boolean)) t.doesNotThrow(() => JSON.parse(out), 'stdout: JSON lines only')
  return line
}

t.test('config errors: every bad variable at once, with the allowed values', async (t) => {
  const run = startServer({ NODE_ENV: 'prod', PORT: 'abc', LOG_LEVEL: 'loud' })
  t.teardown(() => { run.child.kill('SIGKILL') })
  t.equal((await run.exited).code, 1)
  const line = oneFatalLine(t, run)
  t.match(line.msg, /^Invalid configuration: /)
  t.match(line.msg, 'NODE_ENV must be one of: development, production, test')
  t.match(line.msg, 'LOG_LEVEL must be one of: fatal, error, warn, info, debug, trace, silent')
  t.match(line.msg, 'PORT expected integer')
  t.same(line.problems?.map(p => p.variable).sort(), ['LOG_LEVEL', 'NODE_ENV', 'PORT'])
})

t.test('a database out of reach at start: one line naming DATABASE_URL, exit 1', { timeout: 60_000 }, async (t) => {
  const closed = await freePort()
  const cases: Array<[string, RegExp]> = [
    [`postgresql://twofold:pw-never-shown@127.0.0.1:${closed}/twofold`, new RegExp(`^Cannot start: DATABASE_URL: can't reach the database at 127\\.0\\.0\\.1:${closed}/twofold \\(ECONNREFUSED\\)$`)],
    ['postgresql://twofold:pw-never-shown@nohost.invalid/twofold', /^Cannot start: DATABASE_URL: can't reach the database at nohost\.invalid:5432\/twofold \((ENOTFOUND|EAI_AGAIN)\)$/],
    ['postgresql://postgres:pw-never-shown@127.0.0.1:5432/twofold_no_such_database', /^Cannot start: DATABASE_URL: names a database that does not exist \(127\.0\.0\.1:5432\/twofold_no_such_database\) \(SQLSTATE 3D000\)$/],
    ['postgresql://twofold:pw-never-shown@[not-a-host/twofold', /^Cannot start: DATABASE_URL: not a valid URL/]
  ]
  const dataDir = await mkdtemp(path.join(tmpdir(), 'twofold-nodb-'))
  t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  for (const [url, expected] of cases) {
    const run = startServer({ NODE_ENV: 'test', DATABASE_URL: url, DATA_DIR: dataDir, PORT: String(await freePort()), LOG_LEVEL: 'info' })
    t.teardown(() => { run.child.kill('SIGKILL') })
    t.equal((await run.exited).code, 1, `${url}: exit 1`)
    const line = oneFatalLine(t, run)
    t.match(line.msg, expected, url)
    t.notMatch(run.stderr() + run.stdout(), 'pw-never-shown', 'the password stays out of the log')
  }
})

t.test('production without secrets refuses to start', async (t) => {
  const run = startServer({ NODE_ENV: 'production', DATABASE_URL: 'postgresql://x@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1', TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64') })
  t.teardown(() => { run.child.kill('SIGKILL') })
  const { code } = await run.exited
  t.equal(code, 1)
  t.match(run.stderr(), /JWT_SIGNING_KEY/)
})

t.test('a signing key that does not fit JWT_ALGORITHM stops the boot, naming the variable', async (t) => {
  const run = startServer({ NODE_ENV: 'test', JWT_ALGORITHM: 'EdDSA', JWT_SIGNING_KEY: testSigningKey('ES256') })
  t.teardown(() => { run.child.kill('SIGKILL') })
  const { code } = await run.exited
  t.equal(code, 1)
  t.match(run.stderr(), /Invalid configuration: JWT_SIGNING_KEY is an EC P-256 key, but JWT_ALGORITHM=EdDSA needs an Ed25519 key/)
  t.notMatch(run.stderr(), /PRIVATE KEY/, 'the key is not printed')
})

t.test('SIGTERM: an in-flight request completes, then a clean exit', { timeout: 60_000 }, async (t) => {
  const port = await freePort()
  const prefix = `test:server:${randomBytes(6).toString('hex')}:`
  const dataDir = await mkdtemp(path.join(tmpdir(), 'twofold-server-'))
  t.teardown(async () => {
    await rm(dataDir, { recursive: true, force: true })
    const redis = new Redis(TEST_REDIS_URL)
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })
  const run = startServer({
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: await createTestDatabase(t),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    JWT_SIGNING_KEY: testSigningKey(),
    TOTP_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    DATA_DIR: dataDir,
    BCRYPT_COST: '12',
    // debug: the line at the start of a request (info has only the one at its end).
    LOG_LEVEL: 'debug'
  })
  t.teardown(() => { if (run.child.exitCode === null) run.child.kill('SIGKILL') })

  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  let healthy = false
  while (!healthy && Date.now() < deadline && run.child.exitCode === null) {
    healthy = await fetch(`${base}/healthz`).then(r => r.ok, () => false)
    if (!healthy) await sleep(100)
  }
  t.ok(healthy, `the server answers /healthz (stderr: ${run.stderr().slice(0, 500)})`)
  if (!healthy) return

  const started = Date.now()
  const slow = fetch(`${base}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'graceful', password: 'correct horse battery' })
  })
  // SIGTERM once the server has the request (it logs it), while the cost-12 hash still runs.
  while (!/"url":"\/users".*"request received"/.test(run.stdout()) && Date.now() - started < 10_000) await sleep(2)
  const completedBefore = run.stdout().includes('"statusCode":201')
  t.ok(run.child.kill('SIGTERM'), 'SIGTERM sent')
  t.notOk(completedBefore, 'the request was still running at SIGTERM')
  const res = await slow
  t.equal(res.status, 201, 'the in-flight registration completes')
  t.match(await res.json(), { id: String, username: 'graceful' })
  t.equal(res.headers.get('connection'), 'close', 'and tells the client the connection ends')

  const { code, signal } = await run.exited
  t.ok(Date.now() - started < 5000, `exited promptly, not at close-with-grace's 10 s deadline (${Date.now() - started} ms)`)
  t.equal(signal, null, 'not killed by the signal')
  t.equal(code, 0, `exit code 0 (stderr: ${run.stderr().slice(0, 500)})`)
  t.match(run.stdout(), /shutting down/, 'the shutdown was logged')
  t.equal(run.stderr(), '', 'nothing on stderr: no plain-text lines between the JSON ones')
  for (const line of run.stdout().split('\n').filter(Boolean)) t.doesNotThrow(() => JSON.parse(line), 'stdout: JSON lines only')
  t.equal(run.stdout().split('\n').filter(line => line.includes('"url":"/users"') && line.includes('request completed')).length, 1, 'one line for the completed request')
  await t.rejects(fetch(`${base}/healthz`), 'no longer listening')
})

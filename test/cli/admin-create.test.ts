import { spawn } from 'node:child_process'
import t from 'tap'
import { buildTestApp, createTestDatabase, TEST_REDIS_URL, testConfig } from '../helper.js'
import { bearer, INVALID_CREDENTIALS_BODY, login, plainUser } from '../flows.js'
import { builtFile, ROOT as root } from '../built.js'

// `npm run admin:create -- <username>`, password on stdin: the first administrator, or an existing
// user promoted. Tested as shipped: the built CLI, in its own process.
const cliJs = builtFile('cli/admin-create.js')

const databaseUrl = await createTestDatabase(t)

interface Run { code: number | null, stdout: string, stderr: string }

/** Runs the CLI with only the environment given, `stdin` piped in. */
async function adminCreate (args: string[], stdin: string, env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [cliJs, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, BCRYPT_COST: '4', NODE_ENV: 'test', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  child.stdin.end(stdin)
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  try {
    return { code: await exited, stdout, stderr }
  } finally {
    clearTimeout(timer)
  }
}

// One app on the same database, to check what the CLI did through the API.
const app = await buildTestApp(t, testConfig({ DATABASE_URL: databaseUrl }))
const roleOf = async (username: string) => (await app.prisma.user.findUnique({ where: { username }, select: { role: true } }))?.role

t.test('creates an administrator from the password on stdin', async (t) => {
  const password = 'cli admin password'
  const run = await adminCreate(['Root.Admin'], `${password}\n`)
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /Administrator Root\.Admin created\./)
  t.notMatch(run.stdout + run.stderr, password, 'the password is never printed')
  t.equal(await roleOf('root.admin'), 'admin', 'stored lower-case, role admin')

  // The trailing newline of the piped input is not part of the password.
  const res = await login(app, { username: 'root.admin', password })
  t.equal(res.statusCode, 200, res.body)
  t.equal((await login(app, { username: 'root.admin', password: `${password}\n` })).body, INVALID_CREDENTIALS_BODY)
  // And the new administrator can use the admin routes.
  const token = res.json().access_token as string
  const users = await app.inject({ method: 'GET', url: '/admin/users?username=root.admin', headers: bearer(token) })
  t.equal(users.statusCode, 200)
  t.equal(users.json().users[0].role, 'admin')

  const again = await adminCreate(['root.admin'], 'some other password\n')
  t.equal(again.code, 0)
  t.match(again.stdout, /is already an administrator/)
  t.equal((await login(app, { username: 'root.admin', password })).statusCode, 200, 'password unchanged')
})

t.test('promotes an existing user; their password stays as it is', async (t) => {
  const user = await plainUser(app, { username: 'support.lead', password: 'original password' })
  const before = user.token
  t.equal((await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(before) })).statusCode, 403, 'not an admin yet')

  const run = await adminCreate(['Support.Lead'], 'a different password\n')
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /already existed and is now an administrator \(password unchanged\)/)
  t.equal(await roleOf('support.lead'), 'admin')
  t.equal(await app.prisma.user.count({ where: { username: 'support.lead' } }), 1, 'the same user, not a new one')
  t.equal((await app.prisma.user.findUnique({ where: { username: 'support.lead' }, select: { id: true } }))?.id, user.id)
  t.equal((await login(app, { username: 'support.lead', password: 'original password' })).statusCode, 200, 'the old password works')
  t.equal((await login(app, { username: 'support.lead', password: 'a different password' })).body, INVALID_CREDENTIALS_BODY, 'stdin did not replace it')
  // The role is read from the database: the token from before the promotion now works.
  t.equal((await app.inject({ method: 'GET', url: '/admin/users', headers: bearer(before) })).statusCode, 200)
})

t.test('refuses a bad invocation or a weak password, and creates nothing', async (t) => {
  const noName = await adminCreate([], 'long enough password\n')
  t.equal(noName.code, 1)
  t.match(noName.stderr, /usage: npm run admin:create -- <username>/)

  const badName = await adminCreate(['no spaces allowed'], 'long enough password\n')
  t.equal(badName.code, 1)
  t.match(badName.stderr, /usage/)

  const short = await adminCreate(['weak.admin'], 'short\n')
  t.equal(short.code, 1)
  t.match(short.stderr, /at least 8 bytes/)
  t.notMatch(short.stderr, /at .*\.js:\d+/, 'a message, not a stack trace')
  t.equal(await roleOf('weak.admin'), undefined, 'no user')

  const empty = await adminCreate(['empty.admin'], '')
  t.equal(empty.code, 1)
  t.equal(await roleOf('empty.admin'), undefined)

  const badConfig = await adminCreate(['cfg.admin'], 'long enough password\n', { BCRYPT_COST: 'abc' })
  t.equal(badConfig.code, 1)
  t.match(badConfig.stderr, /BCRYPT_COST/)
  t.equal(await roleOf('cfg.admin'), undefined)
})

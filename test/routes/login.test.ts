import t from 'tap'
import { buildTestApp, createTfaUser, register, TestClock, TFA_REQUIRED_BODY } from '../helper.js'

const clock = new TestClock()
const app = await buildTestApp(t, undefined, { now: clock.now })

t.test('password login issues a token with amr pwd', async (t) => {
  await register(app, 'plain', 'correct horse')
  const res = await app.inject({ method: 'POST', url: '/login', payload: ({ username: 'plain', password: 'correct horse' }) })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.token_type, 'Bearer')
  t.match(app.jwt.decode(body.access_token), { sub: String, amr: ['pwd'] })
})

t.test('TFA: code missing gives the documented body', async (t) => {
  const user = await createTfaUser(app, clock)
  const res = await app.inject({ method: 'POST', url: '/login', payload: ({ username: user.username, password: user.password }) })
  t.equal(res.statusCode, 401)
  t.equal(res.body, TFA_REQUIRED_BODY)
  const ok = await app.inject({ method: 'POST', url: '/login', payload: ({ username: user.username, password: user.password + user.code() }) })
  t.equal(ok.statusCode, 200)
})

import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import fc from 'fast-check'
import t from 'tap'
import { buildTestApp, createTestDatabase, testConfig } from '../helper.js'
import { loginToken, plainUser, randomUsername } from '../flows.js'
import { startSmsReceiver } from '../sms-receiver.js'

// Every operation of the OpenAPI document, fed values drawn from its own schemas and deliberately
// odd ones (control characters, NUL, wrong types, ids that are no UUIDs, extreme dates, tokens
// whose `sub` is no UUID): never a 5xx, every error the envelope, nothing logged at error level.
// fast-check is pinned (package.json) and so is the seed: a failure replays the same way.
const SEED = 17
const RUNS_PER_OPERATION = 40

const errorLines: string[] = []
const logStream = new Writable({
  write (chunk, _encoding, done) {
    for (const line of String(chunk).split('\n')) if (line !== '' && (JSON.parse(line) as { level: number }).level >= 50) errorLines.push(line)
    done()
  }
})
const receiver = await startSmsReceiver(t)
const ADMIN = { username: 'fuzz-admin', password: 'fuzz admin password' }
const app = await buildTestApp(t, testConfig({
  DATABASE_URL: await createTestDatabase(t),
  LOG_LEVEL: 'error',
  ADMIN_USERNAME: ADMIN.username,
  ADMIN_PASSWORD: ADMIN.password,
  ...receiver.env
}), { logStream })

type Schema = Record<string, unknown> & { $ref?: string, type?: string | string[], properties?: Record<string, Schema>, required?: string[], items?: Schema, anyOf?: Schema[], oneOf?: Schema[], allOf?: Schema[], enum?: unknown[], const?: unknown }
interface Operation { method: string, path: string, parameters?: Array<{ in: string, name: string, schema: Schema }>, requestBody?: { content: Record<string, { schema: Schema }> }, security?: unknown[] }

const doc = app.swagger() as unknown as { paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>>, components: { schemas: Record<string, Schema> } }
const operations: Operation[] = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, ...op })))

const CONTROL = ['\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u001b', '\u007f']
/** Strings a careful client would never send. */
const oddString = fc.oneof(
  fc.string({ unit: fc.constantFrom(...CONTROL, 'a', '%', '\'', '"', '\\', 'é', '😀', '\u202e') }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '0'.repeat(5000), 'null', '../../etc/passwd', '%00', '00000000-0000-0000-0000-00000000000g', '2026-13-45T25:61:61Z', '+999999999999999')
)
const oddValue = fc.oneof(oddString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }))
const extremeDate = fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map(d => d.toISOString())

function resolve (schema: Schema): Schema {
  if (schema.$ref === undefined) return schema
  const name = schema.$ref.split('/').at(-1)!
  return resolve(doc.components.schemas[name] ?? {})
}

/** Values shaped by the schema, each part now and then replaced by an odd one. */
function arbitraryFor (raw: Schema, depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(raw)
  const shaped = shapedFor(schema, depth)
  return fc.oneof({ weight: 4, arbitrary: shaped }, { weight: 1, arbitrary: oddValue })
}

function shapedFor (schema: Schema, depth: number): fc.Arbitrary<unknown> {
  const variants = schema.anyOf ?? schema.oneOf
  if (variants !== undefined) return fc.oneof(...variants.map(v => arbitraryFor(v, depth + 1)))
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum)
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'object': {
      const props = Object.entries(schema.properties ?? {})
      if (depth > 3) return fc.constant({})
      const record = fc.record(Object.fromEntries(props.map(([k, v]) => [k, arbitraryFor(v, depth + 1)])), { requiredKeys: [] })
      return fc.tuple(record, fc.option(fc.tuple(fc.string({ maxLength: 8 }), oddValue), { freq: 5 })).map(([r, extra]) => extra === null ? r : { ...r, [extra[0]]: extra[1] })
    }
    case 'array': return fc.array(schema.items !== undefined ? arbitraryFor(schema.items, depth + 1) : oddValue, { maxLength: 12 })
    case 'integer': return fc.oneof(fc.integer({ min: Number(schema.minimum ?? -10), max: Number(schema.maximum ?? 1000) }), fc.integer(), fc.constant(2 ** 53))
    case 'number': return fc.double()
    case 'boolean': return fc.boolean()
    case 'null': return fc.constant(null)
    case 'string': {
      if (schema.format === 'uuid') return fc.uuid()
      if (schema.format === 'date-time') return fc.oneof(extremeDate, fc.date({ min: new Date(), max: new Date(Date.now() + 1e12), noInvalidDate: true }).map(d => d.toISOString()))
      const max = Number(schema.maxLength ?? 100)
      if (typeof schema.pattern === 'string') return fc.oneof(fc.stringMatching(new RegExp(schema.pattern)).map(s => s.slice(0, max)), fc.string({ maxLength: max }))
      return fc.oneof(fc.string({ minLength: Number(schema.minLength ?? 0), maxLength: max }), fc.string({ unit: fc.constantFrom(...CONTROL, 'x', ' '), minLength: 1, maxLength: max }))
    }
    default: return oddValue
  }
}

const isEnvelope = (status: number, body: unknown) => {
  const error = (body as { error?: Record<string, unknown> } | null)?.error
  return error !== undefined && Object.keys(body as object).length === 1 && typeof error.message === 'string' && error.code === status && error.identity === null && typeof error.title === 'string'
}

t.test('every operation of the OpenAPI document: no 5xx, errors as the envelope', async (t) => {
  t.ok(operations.length >= 28, `${operations.length} operations`)
  const other = await plainUser(app)
  const forged = app.accessTokens.sign({ sub: 'not-a-uuid', username: 'ghost', amr: ['pwd'], sid: randomUUID() } as never, 900)
  const forgedSid = app.accessTokens.sign({ sub: other.id, username: other.username, amr: ['pwd'], sid: '1 OR 1=1' } as never, 900)
  for (const op of operations) {
    // Fresh credentials per operation: one that logs out or disables must not starve the rest.
    const user = await plainUser(app, { username: randomUsername() })
    const admin = await loginToken(app, ADMIN)
    const auth = fc.constantFrom<string | undefined>(`Bearer ${user.token}`, `Bearer ${admin}`, `Bearer ${forged}`, `Bearer ${forgedSid}`, undefined, 'Bearer \u0001', `ApiKey twofold_ak_${'x'.repeat(49)}`)
    const params = (op.parameters ?? []).filter(p => p.in === 'path')
    const query = (op.parameters ?? []).filter(p => p.in === 'query')
    const bodySchema = op.requestBody?.content['application/json']?.schema
    const pathArb = fc.record(Object.fromEntries(params.map(p => [p.name, fc.oneof(fc.constantFrom(other.id, user.id), fc.uuid(), oddString.filter(s => s !== ''))])))
    const queryArb = fc.record(Object.fromEntries(query.map(p => [p.name, fc.oneof(arbitraryFor(p.schema).map(v => typeof v === 'string' ? v : JSON.stringify(v) ?? ''), oddString)])), { requiredKeys: [] })
    const bodyArb = bodySchema === undefined ? fc.constant(undefined) : arbitraryFor(bodySchema)
    const outcome = await fc.check(fc.asyncProperty(auth, pathArb, queryArb, bodyArb, async (authorization, pathValues, queryValues, body) => {
      const url = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(String(pathValues[name])))
      const qs = new URLSearchParams(queryValues as Record<string, string>).toString()
      const res = await app.inject({
        method: op.method as 'GET',
        url: qs === '' ? url : `${url}?${qs}`,
        headers: authorization === undefined ? {} : { authorization },
        ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) } })
      })
      if (res.statusCode >= 500) throw new Error(`${op.method} ${url}: ${res.statusCode} ${res.body} for ${JSON.stringify(body)}`)
      if (res.statusCode >= 400 && !isEnvelope(res.statusCode, res.json())) throw new Error(`${op.method} ${url}: not the envelope: ${res.body}`)
    }), { seed: SEED, numRuns: RUNS_PER_OPERATION, endOnFailure: true })
    const error = outcome.errorInstance as Error | null
    t.notOk(outcome.failed, `${op.method} ${op.path}${outcome.failed ? `: ${error?.message ?? ''} (counterexample ${JSON.stringify(outcome.counterexample)})` : ''}`)
  }
  t.same(errorLines, [], 'nothing logged at error level')
})

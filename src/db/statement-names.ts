import { createHash } from 'node:crypto'

/**
 * Names for PostgreSQL prepared statements, for @prisma/adapter-pg's `statementNameGenerator`:
 * a named statement is parsed and planned once per connection instead of at every query (every
 * login runs the same few). The name is a hash of the SQL text, so one name never stands for two
 * texts. Only the first `max` distinct texts get one: a connection keeps every statement it
 * prepared, so query shapes that vary without bound (a list of n parameters) stay unnamed.
 */
export function createStatementNames (max = 500): (query: { sql: string }) => string {
  const names = new Map<string, string>()
  // '' is pg's unnamed statement (parsed at every use).
  return ({ sql }) => {
    const known = names.get(sql)
    if (known !== undefined) return known
    if (names.size >= max) return ''
    const name = 'tf_' + createHash('sha256').update(sql).digest('base64url').slice(0, 22)
    names.set(sql, name)
    return name
  }
}

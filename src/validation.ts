import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler'
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js'

type Compile = (route: FastifyRouteSchemaDef<unknown>) => unknown
// The package's types describe the pool's result as taking a bare schema; at run time Fastify
// hands it the route definition (schema, method, url, httpPart), as the compiler's source shows.
const fromPool = AjvCompiler() as unknown as (externalSchemas: unknown, options: object) => Compile
const common = { removeAdditional: false, allErrors: false } as const

/**
 * Two validators from Fastify's own compiler. JSON bodies are checked as sent, never coerced:
 * "123456" must stay a string and a number must not become one. Querystrings, params and
 * headers are text by nature, so they are converted to the schema's types (`?limit=5` → 5).
 */
function buildTwoValidators (externalSchemas: unknown, ajvOptions: object = {}): Compile {
  const json = fromPool(externalSchemas, { ...ajvOptions, customOptions: { ...common, coerceTypes: false } })
  const text = fromPool(externalSchemas, { ...ajvOptions, customOptions: { ...common, coerceTypes: true } })
  return (route) => route.httpPart === 'body' ? json(route) : text(route)
}

export const buildValidator = buildTwoValidators as unknown as ValidatorFactory

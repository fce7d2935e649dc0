import { Type } from '@sinclair/typebox'
import { storedText } from './credentials.js'

export const ApiKeySummarySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  hint: Type.String({ description: 'The prefix and the last four characters, to tell keys apart; never the key.' }),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Last exchange at POST /token.' }),
  expired: Type.Boolean()
}, { $id: 'ApiKeySummary', additionalProperties: false })

export const CreateApiKeyBodySchema = Type.Object({
  name: storedText({ minLength: 1, maxLength: 64 }),
  expires_at: Type.Optional(Type.String({ format: 'date-time', description: 'Must be in the future; no expiry when absent.' }))
}, { additionalProperties: false })

export const CreatedApiKeySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  key: Type.String({ description: '`twofold_ak_` + 43 base62 characters + a 6-character checksum. Store it now: it can\'t be shown again.' }),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
}, { additionalProperties: false, description: 'The new key.' })

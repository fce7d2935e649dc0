import { createTokenFormat } from './opaque-token.js'

/** API keys: `twofold_ak_` + 256 random bits + checksum (see opaque-token.ts); only SHA-256 is stored. */
const apiKeyFormat = createTokenFormat('twofold_ak_')

export const API_KEY_PREFIX = apiKeyFormat.prefix
export const generateApiKey = (): string => apiKeyFormat.generate()
/** True when `key` has the shape and a matching checksum; says nothing about whether it exists. */
export const isWellFormedApiKey = (key: string): boolean => apiKeyFormat.isWellFormed(key)
export const hashApiKey = (key: string): string => apiKeyFormat.hash(key)

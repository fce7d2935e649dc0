import { isIP } from 'node:net'
import { ConfigError, type Env } from './config.js'
import { KeyError, parseSigningKey, parseVerificationKeys, secretSigningKey, type JwtAlgorithm, type SigningKey, type VerificationKey } from './jwt-keys.js'

export interface JwtConfig {
  algorithm: JwtAlgorithm
  /** `iss` of every token and the RFC 8414 issuer: the service's public URL. */
  issuer: string
  /** `aud` of every token; twofold's own routes accept a token naming any of them. */
  audiences: string[]
  /** Filled from DATA_DIR by resolveLocalSecrets when not configured (never in production). */
  signingKey?: SigningKey
  /** Published and accepted besides the signing key: the previous keys, and the next one before a switch. */
  verificationKeys: VerificationKey[]
  /** Set in production when the issuer was derived from HOST/PORT: logged at boot. */
  issuerWarning?: string
}

export interface IntrospectionConfig {
  /** Resource servers allowed to call POST /introspect: client id → secret (HTTP Basic). */
  clients: Map<string, string>
  /** Requests per minute and client address. */
  max: number
}

/**
 * A value given inline (NAME) or as a file (NAME_FILE, a container secret, read into NAME by
 * withSecretFiles, which refuses both at once), and the variable its errors name.
 */
function inlineOrFile (env: Env, name: 'JWT_SIGNING_KEY' | 'JWT_VERIFICATION_KEYS' | 'INTROSPECTION_CLIENTS'): { text: string, variable: string } | undefined {
  const text = env[name]
  if (text === undefined) return undefined
  return { text, variable: env[`${name}_FILE`] === undefined ? name : `${name}_FILE` }
}

function withVariable<T> (variable: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof KeyError) throw new ConfigError(variable, err.message)
    throw err
  }
}

/** Where a client reaches a service listening on HOST:PORT when no public URL is configured. */
function defaultIssuer (host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : isIP(host) === 6 ? `[${host}]` : host
  return `http://${name}:${port}`
}

export function jwtConfig (env: Env, production: boolean): JwtConfig {
  const algorithm = env.JWT_ALGORITHM
  const issuer = env.JWT_ISSUER ?? defaultIssuer(env.HOST, env.PORT)
  if (env.JWT_ISSUER !== undefined) {
    const url = URL.canParse(issuer) ? new URL(issuer) : undefined
    // RFC 8414 §2: an https URL (http for local use) without query or fragment.
    if (url === undefined || !/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '' || issuer.includes('?') || issuer.includes('#')) {
      throw new ConfigError('JWT_ISSUER', 'must be the service\'s public http(s) URL, without query or fragment (e.g. https://auth.example.com)')
    }
  }
  // Behind a proxy or in a container HOST/PORT is rarely the URL services know the issuer by.
  const issuerWarning = production && env.JWT_ISSUER === undefined
    ? `JWT_ISSUER is not set: tokens name ${issuer} as their issuer; set JWT_ISSUER to the public URL your services verify against`
    : undefined
  const audiences = env.JWT_AUDIENCE === undefined ? [issuer] : env.JWT_AUDIENCE.split(',').map(a => a.trim())
  if (audiences.some(a => a === '')) throw new ConfigError('JWT_AUDIENCE', 'must be one audience or a comma-separated list without empty entries')

  const signingText = inlineOrFile(env, 'JWT_SIGNING_KEY')
  const verificationText = inlineOrFile(env, 'JWT_VERIFICATION_KEYS')
  if (algorithm === 'HS256') {
    if (signingText !== undefined) throw new ConfigError(signingText.variable, 'is for EdDSA and ES256: with JWT_ALGORITHM=HS256 tokens are signed with JWT_SECRET')
    if (verificationText !== undefined) throw new ConfigError(verificationText.variable, 'is for EdDSA and ES256: an HS256 secret is never published')
    if (production && env.JWT_SECRET === undefined) throw new ConfigError('JWT_SECRET', 'is required when NODE_ENV=production and JWT_ALGORITHM=HS256')
    const signingKey = env.JWT_SECRET === undefined ? undefined : secretSigningKey(env.JWT_SECRET, env.JWT_KEY_ID)
    return { algorithm, issuer, audiences, signingKey, verificationKeys: [], issuerWarning }
  }
  // A secret left over from HS256 days would otherwise be silently ignored.
  if (env.JWT_SECRET !== undefined) throw new ConfigError('JWT_SECRET', `is only used with JWT_ALGORITHM=HS256 (now ${algorithm}): remove it, or set JWT_ALGORITHM=HS256`)
  if (production && signingText === undefined) {
    throw new ConfigError('JWT_SIGNING_KEY', `is required when NODE_ENV=production and JWT_ALGORITHM=${algorithm} (or JWT_SIGNING_KEY_FILE; JWT_ALGORITHM=HS256 signs with JWT_SECRET instead)`)
  }
  const signingKey = signingText === undefined ? undefined : withVariable(signingText.variable, () => parseSigningKey(signingText.text, algorithm, env.JWT_KEY_ID))
  if (signingKey === undefined && env.JWT_KEY_ID !== undefined) throw new ConfigError('JWT_KEY_ID', 'names the key of JWT_SIGNING_KEY, which is not set')
  // An empty file is "no other key" (a compose secret that is mounted whether or not a rotation is on).
  const verificationKeys = verificationText === undefined || verificationText.text.trim() === '' ? [] : withVariable(verificationText.variable, () => parseVerificationKeys(verificationText.text))
  return { algorithm, issuer, audiences, signingKey, verificationKeys: distinctKeys(verificationKeys, signingKey, verificationText?.variable ?? ''), issuerWarning }
}

/** One key per kid: the same key listed twice is harmless (a rotation step), two keys under one kid are not. */
export function distinctKeys (keys: VerificationKey[], signingKey: SigningKey | undefined, variable: string): VerificationKey[] {
  const byKid = new Map<string, VerificationKey>()
  if (signingKey !== undefined) byKid.set(signingKey.kid, signingKey.verify)
  const result: VerificationKey[] = []
  for (const key of keys) {
    const known = byKid.get(key.kid)
    if (known !== undefined) {
      if (known.key.equals(key.key)) continue
      throw new ConfigError(variable, `holds a key with kid "${key.kid}", which another key already uses`)
    }
    byKid.set(key.kid, key)
    result.push(key)
  }
  return result
}

const CLIENT = /^[A-Za-z0-9._-]{1,64}:[A-Za-z0-9._~-]{32,256}$/

export function introspectionConfig (env: Env): IntrospectionConfig {
  const given = inlineOrFile(env, 'INTROSPECTION_CLIENTS')
  const clients = new Map<string, string>()
  for (const entry of given?.text.split(/[,\n]/).map(e => e.trim()).filter(e => e !== '') ?? []) {
    // The entry is not quoted: it holds a secret.
    if (!CLIENT.test(entry)) throw new ConfigError(given!.variable, 'must be a comma-separated list of client_id:secret (id: letters, digits, . _ -; secret: 32 to 256 of letters, digits, . _ ~ -)')
    const at = entry.indexOf(':')
    clients.set(entry.slice(0, at), entry.slice(at + 1))
  }
  return { clients, max: env.RATE_LIMIT_INTROSPECT_MAX }
}

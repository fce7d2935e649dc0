import type { FactorKeys } from './ephemeral-store.js'

/**
 * The `{u:<id>}` hash tag keeps every key of one user in one Redis Cluster slot, so a Lua
 * script that touches several of them stays legal on a cluster.
 */
export function factorKeys (prefix: string, userId: string): FactorKeys {
  const base = `${prefix}{u:${userId}}:tfa`
  return { lastStep: `${base}:last-step`, failures: `${base}:failures`, lock: `${base}:lock`, smsCode: `${base}:sms-code`, smsSend: `${base}:sms-send` }
}

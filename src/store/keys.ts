/** The keys of one user's second-factor state. Private to store/: callers name users, not keys. */
export interface FactorKeys {
  lastStep: string
  failures: string
  lock: string
  /** Lockouts in a row (no success between them): each makes the next lock longer. */
  lockouts: string
  smsCode: string
  smsSend: string
  /** Bumped to end every receipt issued before (a lock, a reset, a password change). */
  receiptEpoch: string
  /** One receipt's record, by its keyed hash: in the user's slot, so one script checks it with the lock. */
  receipt: (hash: string) => string
}

/**
 * The `{u:<id>}` hash tag keeps every key of one user in one Redis Cluster slot, so a Lua
 * script that touches several of them stays legal on a cluster.
 */
export function factorKeys (prefix: string, userId: string): FactorKeys {
  const base = `${prefix}{u:${userId}}:tfa`
  return { lastStep: `${base}:last-step`, failures: `${base}:failures`, lock: `${base}:lock`, lockouts: `${base}:lockouts`, smsCode: `${base}:sms-code`, smsSend: `${base}:sms-send`, receiptEpoch: `${base}:receipt-epoch`, receipt: (hash) => `${base}:receipt:${hash}` }
}

/** What an SMS quota counts: sends to one number, enrolment sends from one client IP, or every send. */
export type SmsQuotaScope = 'number' | 'ip' | 'global'

/**
 * One key per quota, each its own Cluster slot: the three quotas of a send are taken by three
 * single-key scripts, never one script across slots (the global key would pull every send into
 * one slot with it).
 */
export const smsQuotaKey = (prefix: string, scope: SmsQuotaScope, id: string) =>
  scope === 'global' ? `${prefix}sms-quota:global` : `${prefix}sms-quota:${scope}:${id}`

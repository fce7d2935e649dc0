import fp from 'fastify-plugin'
import { createAdminService, ensureAdmin, type AdminService } from '../auth/admin.js'
import { createApiKeyService, type ApiKeyService } from '../auth/api-keys.js'
import { createAuditLog, type AuditLog } from '../auth/audit.js'
import { createLoginService, type LoginService } from '../auth/login.js'
import { createPasswordHasher, type PasswordHasher } from '../auth/passwords.js'
import { createSecondFactorService, type SecondFactorService } from '../auth/second-factor.js'
import { createSecretBox } from '../auth/secret-box.js'
import { createSmsCodes } from '../auth/sms-codes.js'
import { createSmsEnrolment, type SmsEnrolment } from '../auth/sms-enrolment.js'
import { createTfaEnrolment, type TfaEnrolment } from '../auth/tfa-enrolment.js'
import { createSmsTransport } from '../sms/sms-transport.js'

declare module 'fastify' {
  interface FastifyInstance {
    passwords: PasswordHasher
    secondFactor: SecondFactorService
    accounts: LoginService
    tfa: TfaEnrolment
    smsTfa: SmsEnrolment
    audit: AuditLog
    admin: AdminService
    apiKeys: ApiKeyService
    /**
     * onRequest hook for routes that hash: while every hash slot is taken, answer 503 before
     * reading the body or touching Redis and the database, so shedding costs next to nothing.
     */
    shedWhenBusy: () => Promise<void>
  }
}

/** Builds the domain services once, over the shared clients. */
export default fp(async function servicesPlugin (app) {
  const { config, prisma, store, now } = app
  const { encryptionKey, decryptionKeys } = config.tfa
  if (encryptionKey === undefined) throw new Error('TOTP encryption key must be resolved before buildApp (see resolveLocalSecrets)')
  const secretBox = createSecretBox(encryptionKey, decryptionKeys)
  const passwords = createPasswordHasher({ cost: config.bcryptCost, maxPending: config.maxPendingHashes })
  const audit = createAuditLog(prisma, app.log, now)
  const sms = createSmsCodes({ store, transport: createSmsTransport(config.sms, app.log), hashKeySource: encryptionKey.key, issuer: config.tfa.issuer, now, audit })
  const secondFactor = createSecondFactorService({ prisma, store, secretBox, config, now, audit, sms })
  app.decorate('audit', audit)
  app.decorate('passwords', passwords)
  app.decorate('shedWhenBusy', async () => { passwords.assertCapacity() })
  app.decorate('secondFactor', secondFactor)
  app.decorate('accounts', createLoginService({ prisma, passwords, secondFactor, audit, config }))
  app.decorate('tfa', createTfaEnrolment({ prisma, secondFactor, secretBox, config, audit }))
  app.decorate('smsTfa', createSmsEnrolment({ prisma, secondFactor, secretBox, sms, audit }))
  app.decorate('admin', createAdminService({ prisma, secondFactor, audit }))
  app.decorate('apiKeys', createApiKeyService({ prisma, audit, now }))
  app.beforeDatabaseClose(audit.flush)

  if (config.bootstrapAdmin !== undefined) {
    const { username, password } = config.bootstrapAdmin
    const outcome = await ensureAdmin({ prisma, passwords }, username, password, { promote: false })
    if (outcome === 'created') app.log.info(`Administrator ${username} created from ADMIN_USERNAME`)
    if (outcome === 'taken') app.log.error(`ADMIN_USERNAME ${username} belongs to an existing non-admin user: not promoted (use npm run admin:create -- ${username} to promote on purpose)`)
  }
}, { name: 'services', dependencies: ['config', 'prisma', 'store'] })

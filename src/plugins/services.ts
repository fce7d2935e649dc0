import fp from 'fastify-plugin'
import { createAccountService, type AccountService } from '../auth/accounts.js'
import { createAdminService, type AdminService } from '../auth/admin.js'
import { createApiKeyService, type ApiKeyService } from '../auth/api-keys.js'
import { createDeviceCookies, type DeviceCookies } from '../auth/device-cookies.js'
import { createLoginReceipts } from '../auth/login-receipts.js'
import { createTrustedDevices, type TrustedDevices } from '../auth/trusted-devices.js'
import { createSmsTfaService, type SmsTfaService } from '../auth/sms-tfa.js'
import { createTfaService, type TfaService } from '../auth/tfa.js'
import { createUserService, type UserService } from '../auth/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    users: UserService
    accounts: AccountService
    tfa: TfaService
    smsTfa: SmsTfaService
    admin: AdminService
    apiKeys: ApiKeyService
    /** "Remember this device"; `recognise` tells a live device token of a user apart without using it. */
    trustedDevices: TrustedDevices
    /** Signed "this client logged in as this user before": the login route's rate limit reads it before bcrypt. */
    deviceCookies: DeviceCookies
  }
}

/** The domain services the routes call, built once over the shared clients and the second factor. */
export default fp(async function servicesPlugin (app) {
  const { config, prisma, passwords, secondFactor, secretBox, smsCodes: sms, audit, now, sessions, store } = app
  const { encryptionKey } = config.tfa
  if (encryptionKey === undefined) throw new Error('TOTP encryption key must be resolved before buildApp (see resolveLocalSecrets)')
  const receipts = createLoginReceipts({ store, hashKeySource: encryptionKey.key, secretBox, now, window: config.tfa.window })
  const trustedDevices = createTrustedDevices({ prisma, audit, now, days: config.trustedDeviceDays })
  app.decorate('trustedDevices', trustedDevices)
  const deviceCookies = createDeviceCookies({ keySource: encryptionKey.key, now, days: config.deviceCookies.days })
  app.decorate('deviceCookies', deviceCookies)
  // Ended devices (and their rotated tokens) go a day after they ended, off the request path;
  // every instance may run it, a delete of what is gone is nothing.
  const purge = () => {
    trustedDevices.purgeEnded(now() - 86_400_000)
      .then((count) => { if (count > 0) app.log.info({ count }, 'ended trusted devices purged') })
      .catch((err: unknown) => app.log.warn({ err: { message: (err as Error).message } }, 'purging ended trusted devices failed; retried later'))
  }
  const timer = setInterval(purge, 60 * 60 * 1000)
  timer.unref()
  app.addHook('onClose', async () => { clearInterval(timer) })
  app.decorate('users', createUserService({ prisma, passwords, audit, registration: config.registration, adminRequiresTfa: config.adminRequiresTfa }))
  app.decorate('accounts', createAccountService({ prisma, passwords, secondFactor, audit, config, now, sessions, receipts, trustedDevices, deviceCookies }))
  app.decorate('tfa', createTfaService({ prisma, secondFactor, secretBox, config, audit, now, sessions, trustedDevices }))
  app.decorate('smsTfa', createSmsTfaService({ prisma, secondFactor, secretBox, sms, audit, now, sessions, trustedDevices }))
  app.decorate('admin', createAdminService({ prisma, secondFactor, audit, sessions, trustedDevices }))
  app.decorate('apiKeys', createApiKeyService({ prisma, audit, now, sessions }))
}, { name: 'services', dependencies: ['config', 'prisma', 'store', 'passwords', 'audit', 'second-factor', 'sessions'] })

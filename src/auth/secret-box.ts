import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

export interface SealedSecret { ciphertext: string, keyId: string }

export interface SecretBox {
  seal: (plaintext: string, context: string) => SealedSecret
  open: (sealed: SealedSecret, context: string) => string
}

/**
 * AES-256-GCM for TOTP secrets at rest. The key id stored beside each ciphertext lets the
 * active key rotate while older ones still decrypt. `context` (the user id) is bound as
 * associated data, so a ciphertext copied onto another user's row does not decrypt.
 */
export function createSecretBox (active: { id: string, key: Buffer }, keys: Map<string, Buffer>): SecretBox {
  return {
    seal (plaintext, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', active.key, iv)
      cipher.setAAD(Buffer.from(context))
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return { ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64'), keyId: active.id }
    },
    open ({ ciphertext, keyId }, context) {
      const key = keys.get(keyId)
      if (key === undefined) throw new Error(`No decryption key with id ${keyId} is configured (TOTP_DECRYPTION_KEYS)`)
      const raw = Buffer.from(ciphertext, 'base64')
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
      decipher.setAAD(Buffer.from(context))
      decipher.setAuthTag(raw.subarray(12, 28))
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
    }
  }
}

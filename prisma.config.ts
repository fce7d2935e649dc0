import { defineConfig } from 'prisma/config'

// `prisma generate` needs no database; migrate commands read DATABASE_URL.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/twofold' }
})

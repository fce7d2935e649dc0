-- CreateEnum
CREATE TYPE "TfaMethod" AS ENUM ('totp', 'sms');

-- AlterTable
ALTER TABLE "two_factor" ADD COLUMN     "method" "TfaMethod" NOT NULL DEFAULT 'totp',
ADD COLUMN     "pending_phone_enc" TEXT,
ADD COLUMN     "pending_phone_key_id" TEXT,
ADD COLUMN     "phone_enc" TEXT,
ADD COLUMN     "phone_key_id" TEXT;

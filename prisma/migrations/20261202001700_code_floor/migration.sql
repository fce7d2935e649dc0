-- The durable floor under Redis' used-step record: the last TOTP time step accepted for the user
-- (0: none), and the end of a second-factor lock. On users, not two_factor, so that switching the
-- factor off or resetting it never deletes them while a code of their window could still be valid.
ALTER TABLE "users" ADD COLUMN "totp_last_step" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "users" ADD COLUMN "tfa_locked_until" TIMESTAMPTZ(3);

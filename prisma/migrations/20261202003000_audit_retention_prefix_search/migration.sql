-- The support desk's prefix search (LIKE 'abc%' ORDER BY username): under a linguistic or
-- C.UTF-8 collation the unique index serves neither the LIKE nor, with it, the order; under "C"
-- it serves both as one range scan. Usernames are normalised ASCII-like names: byte order is
-- their alphabetical order. Rebuilds users_username_key (a few seconds per million users).
ALTER TABLE "users" ALTER COLUMN "username" SET DATA TYPE VARCHAR(64) COLLATE "C";

-- CreateIndex
CREATE INDEX "security_events_created_at_idx" ON "security_events"("created_at");

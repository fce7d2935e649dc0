-- CreateIndex
CREATE INDEX "users_username_prefix_idx" ON "users"("username" varchar_pattern_ops);

-- CreateIndex
CREATE INDEX "security_events_created_at_idx" ON "security_events"("created_at");

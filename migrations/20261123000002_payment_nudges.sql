-- When the sweeper last woke a card payment's checkout workflow: at most one nudge per
-- payment per ten minutes, however many sweepers run.
ALTER TABLE payments ADD COLUMN nudged_at timestamptz;

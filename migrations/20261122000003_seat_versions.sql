-- Every change of a seat's status bumps its version, so caches of the seat map (Redis, each
-- API process) apply changes in order and never let an older one win.
ALTER TABLE seat_inventory ADD COLUMN version bigint NOT NULL DEFAULT 0;

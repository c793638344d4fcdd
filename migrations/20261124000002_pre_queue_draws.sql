-- The pre-queue's draw, verifiable: before booking opens Seatline publishes the SHA-256 of a
-- secret seed (the commitment); after it opens, the seed and the anonymized entries, so anyone
-- can recompute every drawn place and the order of admission.

CREATE TABLE pre_queue_draws (
    schedule_id  uuid PRIMARY KEY REFERENCES schedules (id),
    seed         bytea NOT NULL CONSTRAINT pre_queue_seed_length CHECK (length(seed) = 32),
    commitment   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pre_queue_entries (
    schedule_id  uuid NOT NULL REFERENCES schedules (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    -- Public: SHA-256 of the schedule and user ids, so the list names nobody.
    entry_id     text NOT NULL,
    place        bigint NOT NULL,
    joined_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, user_id)
);

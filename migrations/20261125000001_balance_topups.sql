-- Balance top-ups paid by card: the balance grows only when the provider's verified event
-- (webhook or reconciliation) says the payment succeeded, and by each top-up at most once.
CREATE TABLE balance_topups (
    id                   uuid PRIMARY KEY,
    user_id              uuid NOT NULL REFERENCES users (id),
    amount               bigint NOT NULL CONSTRAINT topup_amount_positive CHECK (amount > 0),
    provider_payment_id  text CONSTRAINT topup_one_per_provider_payment UNIQUE,
    checkout_url         text,
    -- The task queue its workflow runs on; a sweeper nudges only the top-ups of its own.
    task_queue           text NOT NULL,
    status               text NOT NULL DEFAULT 'PENDING'
                         CONSTRAINT topup_status_known CHECK (status IN ('PENDING', 'APPLIED', 'FAILED')),
    -- WEBHOOK or RECONCILIATION for APPLIED; ABANDONED or NOT_STARTED for FAILED.
    settled_by           text,
    declines             integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    settled_at           timestamptz,
    nudged_at            timestamptz,
    CONSTRAINT topup_settled_when_final CHECK ((status = 'PENDING') = (settled_at IS NULL))
);
CREATE INDEX balance_topups_by_user ON balance_topups (user_id, created_at DESC);
CREATE INDEX balance_topups_pending ON balance_topups (task_queue, created_at) WHERE status = 'PENDING';

ALTER TABLE balance_history ADD COLUMN topup_id uuid REFERENCES balance_topups (id);
-- A top-up is credited at most once, whichever of webhook and reconciliation comes first.
CREATE UNIQUE INDEX balance_history_one_credit_per_topup
    ON balance_history (topup_id) WHERE topup_id IS NOT NULL;

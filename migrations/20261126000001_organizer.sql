-- The organizer's side: halls uploaded as layouts (sections, rows, seats with positions),
-- concerts and schedules created as drafts and published, per-schedule sale settings and
-- prices, withheld seats, and an audit log of every change with its actor.

-- Published rows are what buyers see. Rows created before this (the demo data) and rows
-- inserted without saying otherwise are published; the organizer API creates drafts.
ALTER TABLE concerts
    ADD COLUMN published_at timestamptz DEFAULT now(),
    ADD COLUMN created_by uuid REFERENCES users (id);

ALTER TABLE schedules
    ADD COLUMN published_at timestamptz DEFAULT now(),
    ADD COLUMN created_by uuid REFERENCES users (id),
    -- Sale settings; NULL takes the deployment's default.
    ADD COLUMN seats_per_buyer integer CONSTRAINT schedule_seats_per_buyer_positive CHECK (seats_per_buyer > 0),
    ADD COLUMN hold_seconds integer CONSTRAINT schedule_hold_seconds_in_range CHECK (hold_seconds BETWEEN 1 AND 3600),
    ADD COLUMN admission_rate double precision CONSTRAINT schedule_admission_rate_positive CHECK (admission_rate > 0),
    ADD COLUMN active_cap integer CONSTRAINT schedule_active_cap_positive CHECK (active_cap > 0);

ALTER TABLE halls
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN created_by uuid REFERENCES users (id);

-- A seat is labelled by section, row and number, and drawn at (x, y).
ALTER TABLE seats
    ADD COLUMN section text NOT NULL DEFAULT '',
    ADD COLUMN x integer,
    ADD COLUMN y integer,
    DROP CONSTRAINT seats_one_per_position,
    ADD CONSTRAINT seats_one_per_label UNIQUE (hall_id, section, row_number, seat_number),
    ADD CONSTRAINT seats_one_per_spot UNIQUE (hall_id, x, y);

-- A schedule's price for a seat (from its grade's price for that schedule); NULL: the hall's.
ALTER TABLE seat_inventory
    ADD COLUMN price bigint CONSTRAINT seat_inventory_price_not_negative CHECK (price >= 0),
    -- Withheld seats (promoter, press, wheelchair and companion seats) are on nobody's
    -- reservation and can't be held: a hold takes AVAILABLE seats only.
    DROP CONSTRAINT seat_status_known,
    ADD CONSTRAINT seat_status_known CHECK (status IN ('AVAILABLE', 'HELD', 'SOLD', 'WITHHELD')),
    DROP CONSTRAINT seat_claim_has_owner,
    ADD CONSTRAINT seat_claim_has_owner CHECK ((status IN ('AVAILABLE', 'WITHHELD')) = (reservation_id IS NULL)),
    ADD COLUMN withheld_reason text,
    ADD CONSTRAINT withheld_seat_has_reason CHECK ((status = 'WITHHELD') = (withheld_reason IS NOT NULL));

-- Every change an organizer or operator makes, with who made it.
CREATE TABLE admin_events (
    id           bigserial PRIMARY KEY,
    actor_id     uuid NOT NULL REFERENCES users (id),
    actor_role   text NOT NULL,
    action       text NOT NULL,
    target_kind  text NOT NULL,
    target_id    text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX admin_events_by_target ON admin_events (target_kind, target_id, id);
CREATE INDEX admin_events_recent ON admin_events (id DESC);

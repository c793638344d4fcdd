-- Seatline core schema: the venue, what is on sale, who buys, and what they hold or own.

CREATE TABLE concerts (
    id          uuid PRIMARY KEY,
    title       text NOT NULL,
    artist      text NOT NULL,
    venue       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A hall layout: rows by columns of seats.
CREATE TABLE halls (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    row_count   integer NOT NULL CHECK (row_count > 0),
    col_count   integer NOT NULL CHECK (col_count > 0)
);

CREATE TABLE seats (
    id           bigserial PRIMARY KEY,
    hall_id      uuid NOT NULL REFERENCES halls (id),
    row_number   integer NOT NULL CHECK (row_number > 0),
    seat_number  integer NOT NULL CHECK (seat_number > 0),
    grade        text NOT NULL,
    price        bigint NOT NULL CONSTRAINT seat_price_not_negative CHECK (price >= 0),
    CONSTRAINT seats_one_per_position UNIQUE (hall_id, row_number, seat_number)
);

CREATE TABLE schedules (
    id                uuid PRIMARY KEY,
    concert_id        uuid NOT NULL REFERENCES concerts (id),
    hall_id           uuid NOT NULL REFERENCES halls (id),
    starts_at         timestamptz NOT NULL,
    booking_opens_at  timestamptz NOT NULL,
    booking_closes_at timestamptz NOT NULL,
    CONSTRAINT booking_window_is_ordered CHECK (booking_opens_at < booking_closes_at)
);
CREATE INDEX schedules_by_concert ON schedules (concert_id, starts_at);

-- What is on sale: one row per seat per schedule.
CREATE TABLE seat_inventory (
    schedule_id     uuid NOT NULL REFERENCES schedules (id),
    seat_id         bigint NOT NULL REFERENCES seats (id),
    status          text NOT NULL DEFAULT 'AVAILABLE'
                    CONSTRAINT seat_status_known CHECK (status IN ('AVAILABLE', 'HELD', 'SOLD')),
    reservation_id  uuid,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, seat_id),
    CONSTRAINT seat_claim_has_owner CHECK ((status = 'AVAILABLE') = (reservation_id IS NULL))
);
CREATE INDEX seat_inventory_by_reservation ON seat_inventory (reservation_id) WHERE reservation_id IS NOT NULL;
CREATE INDEX seat_inventory_available ON seat_inventory (schedule_id) WHERE status = 'AVAILABLE';

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE balances (
    user_id     uuid PRIMARY KEY REFERENCES users (id),
    balance     bigint NOT NULL DEFAULT 0 CONSTRAINT balance_never_negative CHECK (balance >= 0),
    CONSTRAINT balance_within_limit CHECK (balance <= 1000000000000),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    schedule_id  uuid NOT NULL REFERENCES schedules (id),
    status       text NOT NULL
                 CONSTRAINT reservation_status_known
                 CHECK (status IN ('HELD', 'CONFIRMED', 'EXPIRED', 'CANCELLED', 'REFUNDED')),
    amount       bigint NOT NULL CHECK (amount >= 0),
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_by_user ON reservations (user_id, created_at DESC);

CREATE TABLE reservation_seats (
    reservation_id  uuid NOT NULL REFERENCES reservations (id),
    schedule_id     uuid NOT NULL,
    seat_id         bigint NOT NULL,
    price           bigint NOT NULL CHECK (price >= 0),
    released_at     timestamptz,
    PRIMARY KEY (reservation_id, seat_id),
    FOREIGN KEY (schedule_id, seat_id) REFERENCES seat_inventory (schedule_id, seat_id)
);
-- The final guard against double sale: one live (held or sold) claim per seat per schedule,
-- whatever the application does.
CREATE UNIQUE INDEX reservation_seats_one_live_claim
    ON reservation_seats (schedule_id, seat_id) WHERE released_at IS NULL;

CREATE TABLE balance_history (
    id              bigserial PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id),
    kind            text NOT NULL CONSTRAINT balance_entry_kind CHECK (kind IN ('CHARGE', 'USE', 'REFUND')),
    amount          bigint NOT NULL CHECK (amount > 0),
    balance_after   bigint NOT NULL CHECK (balance_after >= 0),
    reservation_id  uuid REFERENCES reservations (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX balance_history_by_user ON balance_history (user_id, id DESC);
-- A reservation is paid from the balance at most once.
CREATE UNIQUE INDEX balance_history_one_use_per_reservation
    ON balance_history (reservation_id) WHERE kind = 'USE';

CREATE TABLE payments (
    id                   uuid PRIMARY KEY,
    reservation_id       uuid NOT NULL REFERENCES reservations (id),
    user_id              uuid NOT NULL REFERENCES users (id),
    method               text NOT NULL CONSTRAINT payment_method_known CHECK (method IN ('BALANCE', 'CARD')),
    provider_payment_id  text UNIQUE,
    amount               bigint NOT NULL CHECK (amount >= 0),
    status               text NOT NULL
                         CONSTRAINT payment_status_known
                         CHECK (status IN ('PENDING', 'APPLIED', 'FAILED', 'REFUNDED')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
-- A reservation is confirmed by one payment at most.
CREATE UNIQUE INDEX payments_one_applied_per_reservation
    ON payments (reservation_id) WHERE status = 'APPLIED';

-- The audit log: every step of a reservation, with who did it.
CREATE TABLE reservation_events (
    id              bigserial PRIMARY KEY,
    reservation_id  uuid NOT NULL,
    kind            text NOT NULL,
    actor           text NOT NULL CONSTRAINT event_actor_known CHECK (actor IN ('USER', 'PROVIDER', 'TIMER', 'OPERATOR', 'SYSTEM')),
    details         jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX reservation_events_by_reservation ON reservation_events (reservation_id, id);

-- Idempotency-Key records: a replay returns the first answer.
CREATE TABLE idempotency_keys (
    scope          text NOT NULL,
    key            text NOT NULL,
    request_hash   text NOT NULL,
    status_code    integer,
    response_body  jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

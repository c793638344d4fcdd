-- The highest place given in each schedule's waiting line, recorded by the admission
-- controller: if Redis loses the line, new places continue after it, so people who joined
-- before the loss (and still hold their signed tokens) are not overtaken.
CREATE TABLE waiting_room_marks (
    schedule_id    uuid PRIMARY KEY REFERENCES schedules (id),
    highest_place  bigint NOT NULL CHECK (highest_place >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

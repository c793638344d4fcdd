-- Accounts with email and password, roles, and server-side sessions (one per login), so a
-- logout really ends a session and a stolen refresh token is noticed when it is reused.

ALTER TABLE users
    ADD COLUMN email text,
    ADD COLUMN password_hash text,
    ADD COLUMN role text NOT NULL DEFAULT 'buyer'
        CONSTRAINT users_role_known CHECK (role IN ('buyer', 'organizer', 'operator', 'door')),
    ADD CONSTRAINT users_email_unique UNIQUE (email),
    -- An account with an email logs in with a password; a demo account has neither.
    ADD CONSTRAINT users_email_has_password CHECK ((email IS NULL) = (password_hash IS NULL));

CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    -- SHA-256 of the refresh token now valid; each refresh replaces it.
    refresh_hash  bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    refreshed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoked_why   text
);

CREATE INDEX sessions_user ON sessions (user_id);
-- Every API process reads the recently revoked sessions each second.
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

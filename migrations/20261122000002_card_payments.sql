-- Card payments through the provider: every webhook event recorded once, keyed by the
-- provider's payment id and the outcome it reports.
CREATE TABLE payment_webhook_events (
    provider_payment_id  text NOT NULL,
    status               text NOT NULL CONSTRAINT webhook_status_known CHECK (status IN ('SUCCEEDED', 'FAILED')),
    event_id             text NOT NULL,
    reservation_id       uuid NOT NULL REFERENCES reservations (id),
    amount               bigint NOT NULL,
    deliveries           integer NOT NULL DEFAULT 1,
    received_at          timestamptz NOT NULL DEFAULT now(),
    forwarded_at         timestamptz,
    PRIMARY KEY (provider_payment_id, status)
);

ALTER TABLE payments ADD COLUMN refund_id text;
ALTER TABLE payments ADD CONSTRAINT refunded_payment_has_refund
    CHECK ((status = 'REFUNDED') = (refund_id IS NOT NULL));

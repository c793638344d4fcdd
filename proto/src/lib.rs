//! The workflow contract, generated from `seatline/reservation.proto`.

pub mod reservation {
    include!(concat!(env!("OUT_DIR"), "/seatline.reservation.v1.rs"));
}

pub use reservation::*;

/// Status words shared by the workflow, the activities and the API.
pub mod outcome {
    pub const HELD: &str = "HELD";
    pub const SEAT_UNAVAILABLE: &str = "SEAT_UNAVAILABLE";
    pub const HOLD_FAILED: &str = "HOLD_FAILED";
    pub const CONFIRMED: &str = "CONFIRMED";
    pub const CANCELLED: &str = "CANCELLED";
    pub const INSUFFICIENT_BALANCE: &str = "INSUFFICIENT_BALANCE";
    pub const RESERVATION_EXPIRED: &str = "RESERVATION_EXPIRED";
    pub const ALREADY_CONFIRMED: &str = "ALREADY_CONFIRMED";
    pub const NOT_HELD: &str = "NOT_HELD";
}

/// Application failure types raised by activities for business outcomes (non-retryable).
pub mod failure {
    pub const SEAT_UNAVAILABLE: &str = "SeatUnavailable";
    pub const INSUFFICIENT_BALANCE: &str = "InsufficientBalance";
    pub const NOT_HELD: &str = "ReservationNotHeld";
    pub const PAYMENT_APPLIED: &str = "PaymentApplied";
    /// A card payment with no verified provider event behind it (a forged signal).
    pub const PAYMENT_UNVERIFIED: &str = "PaymentUnverified";
    /// The provider has no such payment: asking again won't change that.
    pub const UNKNOWN_PAYMENT: &str = "UnknownPayment";
}

/// What the provider says of a card payment. FAILED is not final (the buyer may try another
/// card within the hold); ABANDONED is: Seatline cancelled it at the provider after the hold.
pub mod card_status {
    pub const SUCCEEDED: &str = "SUCCEEDED";
    pub const FAILED: &str = "FAILED";
    pub const PENDING: &str = "PENDING";
    pub const ABANDONED: &str = "ABANDONED";
    /// The provider does not know the payment; nothing to settle.
    pub const UNKNOWN: &str = "UNKNOWN";
}

//! The workflow contract, generated from `seatline/reservation.proto`.

pub mod reservation {
    include!(concat!(env!("OUT_DIR"), "/seatline.reservation.v1.rs"));
}

pub use reservation::*;
use seatline_domain::{Actor, HoldResult, ProviderOutcome, ReservationStatus, Settlement};

// The messages carry statuses as plain words (readable in the Temporal UI); these accessors
// are the one place where the words become the domain's enums and back.

impl HoldOutcome {
    /// What the hold decided. A word this build does not know reads as a failed hold.
    pub fn result(&self) -> HoldResult {
        self.status.parse().unwrap_or(HoldResult::HoldFailed)
    }

    /// A hold that did not happen, naming the seats someone else has.
    pub fn refused(result: HoldResult, unavailable_seat_ids: Vec<i64>) -> Self {
        Self {
            status: result.as_str().to_owned(),
            unavailable_seat_ids,
            ..Default::default()
        }
    }
}

impl SettlementOutcome {
    pub fn new(settlement: Settlement, status: &str, amount: i64) -> Self {
        Self {
            outcome: settlement.as_str().to_owned(),
            status: status.to_owned(),
            amount,
            balance: 0,
        }
    }

    /// The answer. A word this build does not know reads as a failed payment (try again).
    pub fn settlement(&self) -> Settlement {
        self.outcome.parse().unwrap_or(Settlement::PaymentFailed)
    }
}

impl ReleaseHoldInput {
    pub fn new(reservation_id: &str, to: ReservationStatus, actor: Actor) -> Self {
        Self {
            reservation_id: reservation_id.to_owned(),
            reason: to.as_str().to_owned(),
            actor: actor.as_str().to_owned(),
            note: String::new(),
        }
    }
}

impl CardPaymentStatus {
    pub fn of(outcome: ProviderOutcome) -> Self {
        Self {
            status: outcome.as_str().to_owned(),
        }
    }

    pub fn outcome(&self) -> ProviderOutcome {
        self.status.parse().unwrap_or(ProviderOutcome::Pending)
    }
}

impl ProviderReport {
    /// A verified outcome; `None` asks for a check now.
    pub fn of(outcome: Option<ProviderOutcome>) -> Self {
        Self {
            status: outcome.map(|o| o.as_str().to_owned()).unwrap_or_default(),
        }
    }

    pub fn outcome(&self) -> Option<ProviderOutcome> {
        self.status.parse().ok()
    }
}

/// Application failure types raised by activities for business outcomes (non-retryable).
pub mod failure {
    pub const SEAT_UNAVAILABLE: &str = "SeatUnavailable";
    /// The buyer already holds or owns as many seats of the schedule as one buyer may.
    pub const PURCHASE_LIMIT_REACHED: &str = "PurchaseLimitReached";
    pub const INSUFFICIENT_BALANCE: &str = "InsufficientBalance";
    pub const NOT_HELD: &str = "ReservationNotHeld";
    pub const PAYMENT_APPLIED: &str = "PaymentApplied";
    /// A card payment with no verified provider event behind it (a forged signal).
    pub const PAYMENT_UNVERIFIED: &str = "PaymentUnverified";
    /// The provider has no such payment: asking again won't change that.
    pub const UNKNOWN_PAYMENT: &str = "UnknownPayment";
}

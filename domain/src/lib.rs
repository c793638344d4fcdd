//! Domain types of Seatline. Each is a newtype with a `parse` that enforces its invariant,
//! so code past the HTTP edge never re-checks. No web or database imports live here.

mod account;
mod ids;
mod layout;
mod money;
mod reservation;
mod seats;

pub use account::{Email, Password, Role};
pub use ids::{ConcertId, ReservationId, ScheduleId, SeatId, UserId};
pub use layout::{
    HallLayout, LayoutProblem, LayoutSeat, RawSeat, MAX_SEATS_PER_HALL, MAX_SEAT_PRICE,
};
pub use money::{Amount, MAX_CHARGE};
pub use reservation::{
    Actor, AuditKind, BalanceEntryKind, HoldDuration, HoldResult, PaymentMethod, PaymentStatus,
    ProviderOutcome, QueueStatus, RefundReason, RefundResult, ReservationStatus, SeatStatus,
    Settlement, MAX_SEATS_PER_HOLD,
};
pub use seats::{SeatSelection, UserName};

/// Why an input was refused; the message is safe to show to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

//! The activities the reservation workflow calls. Declared here, implemented in
//! `seatline-activities`, so this crate stays free of I/O.
#![allow(clippy::unimplemented, unused_variables)]

use seatline_proto::{
    AdmitBatchInput, AdmitBatchOutcome, CardPaymentStatus, CheckCardPaymentInput,
    CheckTopupPaymentInput, ConfirmOutcome, ConfirmWithBalanceInput, ConfirmWithCardInput,
    HoldOutcome, HoldSeatsInput, RefundCardPaymentInput, RefundOutcome, ReleaseHoldInput,
    SweepOutcome, SweeperInput, TopupOutcome,
};
use temporalio_macros::activity_definitions;
use temporalio_sdk::activities::ActivityError;

pub struct ReservationActivities;

#[activity_definitions]
impl ReservationActivities {
    /// Claims all requested seats or none. Fails non-retryably with `SeatUnavailable`.
    #[activity(name = "hold_seats")]
    pub fn hold_seats(input: HoldSeatsInput) -> Result<HoldOutcome, ActivityError> {
        unimplemented!()
    }

    /// Seats SOLD, balance debited, reservation CONFIRMED. Fails non-retryably with
    /// `InsufficientBalance` or `ReservationNotHeld`.
    #[activity(name = "confirm_with_balance")]
    pub fn confirm_with_balance(
        input: ConfirmWithBalanceInput,
    ) -> Result<ConfirmOutcome, ActivityError> {
        unimplemented!()
    }

    /// Seats AVAILABLE again; reservation EXPIRED or CANCELLED. Returns the final status.
    #[activity(name = "release_hold")]
    pub fn release_hold(input: ReleaseHoldInput) -> Result<String, ActivityError> {
        unimplemented!()
    }

    /// Applies a successful card payment: seats SOLD, reservation CONFIRMED. Fails
    /// non-retryably with `ReservationNotHeld` when the hold is gone.
    #[activity(name = "confirm_with_card")]
    pub fn confirm_with_card(input: ConfirmWithCardInput) -> Result<ConfirmOutcome, ActivityError> {
        unimplemented!()
    }

    /// Refunds a card payment through the provider (payment task queue).
    #[activity(name = "refund_card_payment")]
    pub fn refund_card_payment(
        input: RefundCardPaymentInput,
    ) -> Result<RefundOutcome, ActivityError> {
        unimplemented!()
    }

    /// One admission step of a schedule's waiting room.
    #[activity(name = "admit_batch")]
    pub fn admit_batch(input: AdmitBatchInput) -> Result<AdmitBatchOutcome, ActivityError> {
        unimplemented!()
    }

    /// Asks the provider for a card payment's outcome (payment task queue); records a final
    /// one as a verified event. With `abandon`, cancels a still pending payment first.
    #[activity(name = "check_card_payment")]
    pub fn check_card_payment(
        input: CheckCardPaymentInput,
    ) -> Result<CardPaymentStatus, ActivityError> {
        unimplemented!()
    }

    /// Asks the provider for a card top-up's outcome (payment task queue) and settles a final
    /// one: a success credits the balance once, an abandoned payment fails the top-up. With
    /// `abandon`, cancels a still pending payment first. Answers PENDING, APPLIED or FAILED.
    #[activity(name = "check_topup_payment")]
    pub fn check_topup_payment(
        input: CheckTopupPaymentInput,
    ) -> Result<TopupOutcome, ActivityError> {
        unimplemented!()
    }

    /// One pass of the safety net: stranded holds, unsettled card payments, stale seat maps.
    #[activity(name = "sweep")]
    pub fn sweep(input: SweeperInput) -> Result<SweepOutcome, ActivityError> {
        unimplemented!()
    }
}

/// Names for the activity definitions, so the worker crate can implement them.
pub mod definitions {
    pub use super::reservation_activities::{
        AdmitBatch, CheckCardPayment, CheckTopupPayment, ConfirmWithBalance, ConfirmWithCard,
        HoldSeats, RefundCardPayment, ReleaseHold, Sweep,
    };
}

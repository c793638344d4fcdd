//! Workflow definitions of Seatline. Everything here is deterministic: time comes from the
//! workflow clock, waiting from timers and conditions, side effects from activities.

mod activities;
mod admission;
mod checkout;
mod refund;
mod reservation;
mod sweeper;
mod topup;

pub use activities::{definitions as activity_definitions, ReservationActivities};
pub use admission::AdmissionWorkflow;
pub use checkout::{checkout_workflow_id, CheckoutWorkflow};
pub use refund::RefundWorkflow;
pub use reservation::{ReservationWorkflow, RESERVATION_STATUS, SCHEDULE_ID, USER_ID};
pub use sweeper::{sweeper_workflow_id, SweeperWorkflow};
pub use topup::{topup_workflow_id, TopupWorkflow};

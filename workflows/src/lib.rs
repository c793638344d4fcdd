//! Workflow definitions of Seatline. Everything here is deterministic: time comes from the
//! workflow clock, waiting from timers and conditions, side effects from activities.

mod activities;
mod admission;
mod refund;
mod reservation;

pub use activities::{definitions as activity_definitions, ReservationActivities};
pub use admission::AdmissionWorkflow;
pub use refund::RefundWorkflow;
pub use reservation::{ReservationWorkflow, RESERVATION_STATUS, SCHEDULE_ID, USER_ID};

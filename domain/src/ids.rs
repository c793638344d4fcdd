use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                Uuid::parse_str(raw.trim())
                    .map(Self)
                    .map_err(|_| ParseError::new(concat!("not a valid ", $what, " id")))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A buyer.
    UserId,
    "user"
);
uuid_id!(
    /// A concert (the show, across all its dates).
    ConcertId,
    "concert"
);
uuid_id!(
    /// One date of a concert; seats are sold per schedule.
    ScheduleId,
    "schedule"
);
uuid_id!(
    /// One reservation; its workflow id is `reservation-<id>`.
    ReservationId,
    "reservation"
);

impl ReservationId {
    const WORKFLOW_PREFIX: &'static str = "reservation-";

    /// The id of the Temporal workflow that owns this reservation.
    pub fn workflow_id(&self) -> String {
        format!("{}{}", Self::WORKFLOW_PREFIX, self.0)
    }

    pub fn from_workflow_id(workflow_id: &str) -> Result<Self, ParseError> {
        workflow_id
            .strip_prefix(Self::WORKFLOW_PREFIX)
            .ok_or_else(|| ParseError::new("not a reservation workflow id"))
            .and_then(Self::parse)
    }
}

/// A seat of the hall. Seats are numbered per venue layout; the id is stable across schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeatId(i64);

impl SeatId {
    pub fn parse(raw: i64) -> Result<Self, ParseError> {
        if raw <= 0 {
            return Err(ParseError::new("seat ids are positive integers"));
        }
        Ok(Self(raw))
    }

    pub fn get(&self) -> i64 {
        self.0
    }
}

impl fmt::Display for SeatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_workflow_id_round_trips() {
        let id = ReservationId::new();
        let wf = id.workflow_id();
        assert!(wf.starts_with("reservation-"));
        assert_eq!(ReservationId::from_workflow_id(&wf).unwrap(), id);
    }

    #[test]
    fn garbage_ids_are_refused() {
        assert!(UserId::parse("not-a-uuid").is_err());
        assert!(ReservationId::from_workflow_id("order-123").is_err());
        assert!(SeatId::parse(0).is_err());
        assert!(SeatId::parse(-5).is_err());
        assert_eq!(SeatId::parse(7).unwrap().get(), 7);
    }
}

use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr, time::Duration};

/// The most seats one reservation may hold.
pub const MAX_SEATS_PER_HOLD: usize = 4;

/// How long a hold lasts before its seats go back on sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldDuration(Duration);

impl HoldDuration {
    pub const DEFAULT_SECONDS: u64 = 300;
    const MAX_SECONDS: u64 = 3_600;

    pub fn parse(seconds: u64) -> Result<Self, ParseError> {
        if seconds == 0 || seconds > Self::MAX_SECONDS {
            return Err(ParseError::new(format!(
                "a hold lasts between 1 and {} seconds",
                Self::MAX_SECONDS
            )));
        }
        Ok(Self(Duration::from_secs(seconds)))
    }

    pub fn as_duration(&self) -> Duration {
        self.0
    }

    pub fn as_secs(&self) -> u64 {
        self.0.as_secs()
    }
}

impl Default for HoldDuration {
    fn default() -> Self {
        Self(Duration::from_secs(Self::DEFAULT_SECONDS))
    }
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                match raw {
                    $($text => Ok(Self::$variant),)+
                    other => Err(ParseError::new(format!(
                        concat!("unknown ", stringify!($name), " '{}'"),
                        other
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Where a reservation is in its life.
    ReservationStatus {
        Held => "HELD",
        Confirmed => "CONFIRMED",
        Expired => "EXPIRED",
        Cancelled => "CANCELLED",
        Refunded => "REFUNDED",
    }
);

impl ReservationStatus {
    /// A final status never changes again.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Held)
    }
}

string_enum!(
    /// The sale state of one seat of one schedule. WITHHELD: kept back by the organizer
    /// (press, wheelchair and companion seats), never held.
    SeatStatus {
        Available => "AVAILABLE",
        Held => "HELD",
        Sold => "SOLD",
        Withheld => "WITHHELD",
    }
);

impl SeatStatus {
    /// The one-letter form of the compact seat map and the Redis cache: `A`, `H`, `S`, `W`.
    pub fn letter(self) -> u8 {
        match self {
            Self::Available => b'A',
            Self::Held => b'H',
            Self::Sold => b'S',
            Self::Withheld => b'W',
        }
    }

    /// The status of a letter; anything unknown reads as available, as an empty cache does.
    pub fn from_letter(letter: u8) -> Self {
        match letter {
            b'H' => Self::Held,
            b'S' => Self::Sold,
            b'W' => Self::Withheld,
            _ => Self::Available,
        }
    }
}

string_enum!(
    /// A payment as Seatline records it.
    PaymentStatus {
        Pending => "PENDING",
        Applied => "APPLIED",
        Failed => "FAILED",
        Refunded => "REFUNDED",
    }
);

string_enum!(
    /// How a payment was made.
    PaymentMethod {
        Balance => "BALANCE",
        Card => "CARD",
    }
);

string_enum!(
    /// What the hold step of a reservation decided.
    HoldResult {
        Held => "HELD",
        SeatUnavailable => "SEAT_UNAVAILABLE",
        PurchaseLimitReached => "PURCHASE_LIMIT_REACHED",
        HoldFailed => "HOLD_FAILED",
    }
);

string_enum!(
    /// The answer to a payment or cancellation asked of a reservation.
    Settlement {
        Confirmed => "CONFIRMED",
        Cancelled => "CANCELLED",
        InsufficientBalance => "INSUFFICIENT_BALANCE",
        ReservationExpired => "RESERVATION_EXPIRED",
        AlreadyConfirmed => "ALREADY_CONFIRMED",
        NotHeld => "NOT_HELD",
        PaymentFailed => "PAYMENT_FAILED",
    }
);

string_enum!(
    /// What the payment provider says of a card payment. `Failed` is not final (the buyer
    /// may try another card within the hold); `Abandoned` is: Seatline cancelled it at the
    /// provider after the hold; `Unknown`: the provider has no such payment.
    ProviderOutcome {
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Pending => "PENDING",
        Abandoned => "ABANDONED",
        Unknown => "UNKNOWN",
    }
);

string_enum!(
    /// Why a card payment is refunded.
    RefundReason {
        HoldNotAvailable => "HOLD_NOT_AVAILABLE",
        AlreadyPaid => "ALREADY_PAID",
        LatePayment => "LATE_PAYMENT",
    }
);

string_enum!(
    /// What a refund attempt did.
    RefundResult {
        Refunded => "REFUNDED",
        AlreadyRefunded => "ALREADY_REFUNDED",
        NotRefundable => "NOT_REFUNDABLE",
    }
);

string_enum!(
    /// Where a buyer stands in a schedule's waiting line.
    QueueStatus {
        Waiting => "WAITING",
        Active => "ACTIVE",
        Expired => "EXPIRED",
        SoldOut => "SOLD_OUT",
    }
);

string_enum!(
    /// What moved a balance: a top-up, a payment, or money given back.
    BalanceEntryKind {
        Charge => "CHARGE",
        Use => "USE",
        Refund => "REFUND",
    }
);

string_enum!(
    /// A step of a reservation, as the audit log records it.
    AuditKind {
        Held => "HELD",
        CheckoutStarted => "CHECKOUT_STARTED",
        PaymentWebhook => "PAYMENT_WEBHOOK",
        PaymentWebhookDuplicate => "PAYMENT_WEBHOOK_DUPLICATE",
        PaymentReconciled => "PAYMENT_RECONCILED",
        PaymentAbandoned => "PAYMENT_ABANDONED",
        PaymentDeclined => "PAYMENT_DECLINED",
        PaymentApplied => "PAYMENT_APPLIED",
        Confirmed => "CONFIRMED",
        Expired => "EXPIRED",
        Cancelled => "CANCELLED",
        Refunded => "REFUNDED",
    }
);

impl AuditKind {
    /// The step that ends a reservation in `status`.
    pub fn ended(status: ReservationStatus) -> Self {
        match status {
            ReservationStatus::Held => Self::Held,
            ReservationStatus::Confirmed => Self::Confirmed,
            ReservationStatus::Expired => Self::Expired,
            ReservationStatus::Cancelled => Self::Cancelled,
            ReservationStatus::Refunded => Self::Refunded,
        }
    }
}

string_enum!(
    /// Who did a step of a reservation, as the audit log records it.
    Actor {
        User => "USER",
        Provider => "PROVIDER",
        Timer => "TIMER",
        Operator => "OPERATOR",
        System => "SYSTEM",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_duration_is_bounded() {
        assert!(HoldDuration::parse(0).is_err());
        assert!(HoldDuration::parse(3_601).is_err());
        assert_eq!(HoldDuration::parse(2).unwrap().as_secs(), 2);
        assert_eq!(HoldDuration::default().as_secs(), 300);
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for s in [
            ReservationStatus::Held,
            ReservationStatus::Confirmed,
            ReservationStatus::Expired,
            ReservationStatus::Cancelled,
            ReservationStatus::Refunded,
        ] {
            assert_eq!(s.as_str().parse::<ReservationStatus>().unwrap(), s);
        }
        assert!("held".parse::<ReservationStatus>().is_err());
        assert!(!ReservationStatus::Held.is_final());
        assert!(ReservationStatus::Expired.is_final());
        assert_eq!("SOLD".parse::<SeatStatus>().unwrap(), SeatStatus::Sold);
    }

    #[test]
    fn seat_letters_round_trip() {
        for s in [
            SeatStatus::Available,
            SeatStatus::Held,
            SeatStatus::Sold,
            SeatStatus::Withheld,
        ] {
            assert_eq!(SeatStatus::from_letter(s.letter()), s);
        }
        assert_eq!(SeatStatus::from_letter(b'?'), SeatStatus::Available);
        assert_eq!(SeatStatus::Held.letter(), b'H');
    }

    #[test]
    fn outcome_words_are_the_contract_words() {
        assert_eq!(Settlement::PaymentFailed.as_str(), "PAYMENT_FAILED");
        assert_eq!("SEAT_UNAVAILABLE".parse(), Ok(HoldResult::SeatUnavailable));
        assert_eq!("ABANDONED".parse(), Ok(ProviderOutcome::Abandoned));
        assert_eq!(Actor::System.to_string(), "SYSTEM");
        assert!("CANCELED".parse::<ProviderOutcome>().is_err());
        assert_eq!(QueueStatus::SoldOut.as_str(), "SOLD_OUT");
        assert_eq!("REFUND".parse(), Ok(BalanceEntryKind::Refund));
    }
}

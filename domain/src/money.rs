use crate::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest single balance charge, in minor units (KRW has no minor unit, so won).
pub const MAX_CHARGE: i64 = 10_000_000;

/// An amount of money in minor units: a non-negative integer, never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amount(i64);

impl Amount {
    pub const ZERO: Amount = Amount(0);

    /// Any non-negative amount (prices, balances, totals).
    pub fn parse(raw: i64) -> Result<Self, ParseError> {
        if raw < 0 {
            return Err(ParseError::new("amounts cannot be negative"));
        }
        Ok(Self(raw))
    }

    /// An amount a buyer may add to their balance in one charge.
    pub fn parse_charge(raw: i64) -> Result<Self, ParseError> {
        if raw <= 0 {
            return Err(ParseError::new("a charge must be a positive amount"));
        }
        if raw > MAX_CHARGE {
            return Err(ParseError::new(format!(
                "a single charge is at most {MAX_CHARGE}"
            )));
        }
        Ok(Self(raw))
    }

    pub fn get(&self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_must_be_positive_and_bounded() {
        assert!(Amount::parse_charge(0).is_err());
        assert!(Amount::parse_charge(-1).is_err());
        assert!(Amount::parse_charge(MAX_CHARGE + 1).is_err());
        assert!(Amount::parse_charge(i64::MAX).is_err());
        assert_eq!(Amount::parse_charge(MAX_CHARGE).unwrap().get(), MAX_CHARGE);
    }

    #[test]
    fn amounts_are_never_negative() {
        assert!(Amount::parse(-1).is_err());
        assert_eq!(Amount::parse(0).unwrap(), Amount::ZERO);
    }

    #[test]
    fn addition_does_not_overflow_silently() {
        let big = Amount::parse(i64::MAX).unwrap();
        assert!(big.checked_add(Amount::parse(1).unwrap()).is_none());
    }
}

use crate::{ParseError, SeatId, MAX_SEATS_PER_HOLD};
use std::collections::BTreeSet;

/// The seats one hold asks for: 1 to `MAX_SEATS_PER_HOLD` distinct seats, kept sorted so that
/// every transaction locks them in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSelection(Vec<SeatId>);

impl SeatSelection {
    pub fn parse(raw: &[i64]) -> Result<Self, ParseError> {
        if raw.is_empty() {
            return Err(ParseError::new("pick at least one seat"));
        }
        if raw.len() > MAX_SEATS_PER_HOLD {
            return Err(ParseError::new(format!(
                "at most {MAX_SEATS_PER_HOLD} seats per reservation"
            )));
        }
        let mut unique = BTreeSet::new();
        for &id in raw {
            if !unique.insert(SeatId::parse(id)?) {
                return Err(ParseError::new(format!("seat {id} is listed twice")));
            }
        }
        Ok(Self(unique.into_iter().collect()))
    }

    pub fn seats(&self) -> &[SeatId] {
        &self.0
    }

    pub fn raw(&self) -> Vec<i64> {
        self.0.iter().map(SeatId::get).collect()
    }
}

/// A display name for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ParseError::new("name cannot be empty"));
        }
        // Counted as sent, as the API documents it.
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::new(format!(
                "name is at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if raw.chars().any(char::is_control) {
            return Err(ParseError::new("name cannot contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_is_sorted_and_bounded() {
        let s = SeatSelection::parse(&[9, 3, 5]).unwrap();
        assert_eq!(s.raw(), vec![3, 5, 9]);
        assert!(SeatSelection::parse(&[]).is_err());
        assert!(SeatSelection::parse(&[1, 2, 3, 4, 5]).is_err());
        assert!(SeatSelection::parse(&[1, 1]).is_err());
        assert!(SeatSelection::parse(&[-1]).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(UserName::parse("  Kim  ").unwrap().as_str(), "Kim");
        assert!(UserName::parse("   ").is_err());
        assert!(UserName::parse(&"x".repeat(101)).is_err());
        assert!(UserName::parse("a\u{0}b").is_err());
    }
}

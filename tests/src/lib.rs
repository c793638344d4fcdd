//! End-to-end tests live in tests/e2e/; see tests/e2e/main.rs.

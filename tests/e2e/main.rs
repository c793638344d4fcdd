//! End-to-end tests: real HTTP against the real API, real workers, Temporal, PostgreSQL and
//! Redis. `scripts/test.sh` starts the shared services; each test starts its own API and
//! worker on a task queue of its own and buys seats of a schedule of its own.

mod common;

mod accounts;
mod authz;
mod bad_input;
mod durability;
mod money;
mod money_conservation;
mod ops;
mod organizer;
mod payments;
mod recovery;
mod reservations;
mod seat_map;
mod sellout;
mod topups;
mod waiting_room;

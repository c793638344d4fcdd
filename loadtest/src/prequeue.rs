//! `prequeue --entries N`: what checking a pre-queue draw of N entries costs. It does what
//! anyone who checks a revealed draw does: compute every entry's place from the seed, then
//! sort them into the order of admission. No server needed.

use crate::Args;
use seatline_domain::{ScheduleId, UserId};
use seatline_storage::pre_queue;
use serde_json::{json, Value};
use std::time::Instant;

pub fn run(args: &Args) -> anyhow::Result<Value> {
    let n = args.number("entries", 200_000)? as usize;
    let schedule = ScheduleId::new();
    let entries: Vec<String> = (0..n)
        .map(|_| pre_queue::entry_id(schedule, UserId::new()))
        .collect();
    let seed = [7u8; 32];
    let started = Instant::now();
    let mut places: Vec<(u64, &str)> = entries
        .iter()
        .map(|e| (pre_queue::place(&seed, e), e.as_str()))
        .collect();
    let drawn = started.elapsed();
    places.sort_unstable();
    let total = started.elapsed();
    let collisions = places.windows(2).filter(|w| w[0].0 == w[1].0).count();
    let report = json!({
        "scenario": "prequeue",
        "entries": n,
        "draw_ms": drawn.as_secs_f64() * 1e3,
        "draw_and_sort_ms": total.as_secs_f64() * 1e3,
        "colliding_places": collisions,
    });
    println!("{report}");
    Ok(report)
}

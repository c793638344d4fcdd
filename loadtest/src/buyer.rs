//! One simulated buyer: queue, wait, read the seat map, pick seats (most of them from the
//! front rows), hold, and pay or walk away. Every buyer is a tokio task; what it keeps between
//! steps is small (a bitset of the seats it last saw available), so hundreds of thousands fit.

use crate::api::{Api, Credentials, MapForm};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::Deserialize;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use uuid::Uuid;

/// The seats of a schedule in the order of its static layout, shared by every buyer.
pub struct Layout {
    ids: Vec<i64>,
    rows: Vec<i32>,
    index: HashMap<i64, usize>,
    /// Rows up to this one are "the front": the popular seats.
    front_last_row: i32,
}

impl Layout {
    /// `seats`: (seat id, row) in (row, number) order.
    pub fn new(seats: Vec<(i64, i32)>) -> Self {
        let max_row = seats.iter().map(|s| s.1).max().unwrap_or(1);
        let front_last_row = ((max_row as f64) * 0.2).ceil().max(1.0) as i32;
        let index = seats.iter().enumerate().map(|(i, s)| (s.0, i)).collect();
        let (ids, rows) = seats.into_iter().unzip();
        Self {
            ids,
            rows,
            index,
            front_last_row,
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

/// What a buyer believes of each seat: available or not. A bitset: 15,000 seats are 1.9 kB.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeatBook {
    available: Vec<u64>,
    /// Some seat was HELD on the last map: it may come back.
    pub any_held: bool,
}

/// The compact seat map: one letter per seat (A, H, S) in layout order.
#[derive(Deserialize)]
struct CompactMap<'a> {
    #[serde(borrow)]
    statuses: &'a str,
}

impl SeatBook {
    pub fn empty(layout: &Layout) -> Self {
        Self {
            available: vec![0; layout.len().div_ceil(64)],
            any_held: false,
        }
    }

    /// From a `GET /seats?format=compact` body; None if it does not parse or does not fit
    /// the layout.
    pub fn from_compact(layout: &Layout, body: &[u8]) -> Option<Self> {
        let map: CompactMap = serde_json::from_slice(body).ok()?;
        if map.statuses.len() != layout.len() {
            return None;
        }
        let mut book = Self::empty(layout);
        for (at, status) in map.statuses.bytes().enumerate() {
            match status {
                b'A' => book.set(at, true),
                b'H' => book.any_held = true,
                _ => {}
            }
        }
        Some(book)
    }

    pub fn set(&mut self, at: usize, available: bool) {
        if let Some(word) = self.available.get_mut(at / 64) {
            if available {
                *word |= 1 << (at % 64);
            } else {
                *word &= !(1 << (at % 64));
            }
        }
    }

    pub fn is_available(&self, at: usize) -> bool {
        self.available
            .get(at / 64)
            .is_some_and(|w| w & (1 << (at % 64)) != 0)
    }

    #[cfg(test)]
    pub fn available_count(&self) -> usize {
        self.available.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Forget these seats: someone else has them.
    pub fn take(&mut self, layout: &Layout, seat_ids: &[i64]) {
        for id in seat_ids {
            if let Some(at) = layout.index.get(id) {
                self.set(*at, false);
            }
        }
    }

    /// Up to `want` seats side by side in one row, around a seat chosen at random: from the
    /// front rows with probability `front_share` (while any is left there), else anywhere.
    /// Empty when the book has no seat left.
    pub fn pick(
        &self,
        layout: &Layout,
        want: usize,
        front_share: f64,
        rng: &mut impl Rng,
    ) -> Vec<i64> {
        let available: Vec<usize> = (0..layout.len())
            .filter(|at| self.is_available(*at))
            .collect();
        if available.is_empty() {
            return Vec::new();
        }
        let front: Vec<usize> = available
            .iter()
            .copied()
            .filter(|at| layout.rows[*at] <= layout.front_last_row)
            .collect();
        let pool = if !front.is_empty() && rng.gen_bool(front_share.clamp(0.0, 1.0)) {
            &front
        } else {
            &available
        };
        let anchor = pool[rng.gen_range(0..pool.len())];
        let row = layout.rows[anchor];
        let mut seats = vec![layout.ids[anchor]];
        let (mut left, mut right) = (anchor, anchor);
        while seats.len() < want.max(1) {
            let next_right = right + 1;
            if next_right < layout.len()
                && layout.rows[next_right] == row
                && self.is_available(next_right)
            {
                right = next_right;
                seats.push(layout.ids[right]);
                continue;
            }
            if left > 0 && layout.rows[left - 1] == row && self.is_available(left - 1) {
                left -= 1;
                seats.push(layout.ids[left]);
                continue;
            }
            break;
        }
        seats.sort_unstable();
        seats
    }
}

/// How many seats a buyer wants: mostly one or two, at most four.
pub fn seats_wanted(rng: &mut impl Rng) -> usize {
    match rng.gen_range(0..100) {
        0..=39 => 1,
        40..=79 => 2,
        80..=89 => 3,
        _ => 4,
    }
}

/// How a buyer's visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Bought,
    Abandoned,
    SoldOut,
    NoSeats,
    PaymentFailed,
    Stopped,
    GaveUp,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Self::Bought => "bought",
            Self::Abandoned => "abandoned",
            Self::SoldOut => "sold_out",
            Self::NoSeats => "no_seats",
            Self::PaymentFailed => "payment_failed",
            Self::Stopped => "stopped",
            Self::GaveUp => "gave_up",
        }
    }
}

/// Counters every buyer adds to.
#[derive(Default)]
pub struct Tally {
    pub hold_attempts: AtomicU64,
    pub holds_won: AtomicU64,
    pub holds_lost: AtomicU64,
    pub holds_failed: AtomicU64,
    /// 503 BUSY: the API had too many holds in flight; not counted as attempts.
    pub holds_busy: AtomicU64,
    pub rejoins: AtomicU64,
    pub abandoned: AtomicU64,
    pub paid: AtomicU64,
    pub seats_paid: AtomicU64,
    /// Payments answered RESERVATION_EXPIRED although sent more than a second before the
    /// hold's `expires_at`: the server's fault, not the buyer's.
    pub pay_expired_before_deadline: AtomicU64,
    pub pay_expired_after_deadline: AtomicU64,
    pub active: AtomicU64,
    pub finished: AtomicU64,
}

impl Tally {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What every buyer of a sellout shares.
pub struct Shop {
    pub api: Api,
    pub schedule: Uuid,
    pub layout: Layout,
    pub abandon: f64,
    pub front_share: f64,
    pub think_ms: u64,
    pub poll_ms: u64,
    pub poll_max_ms: u64,
    /// Buyers made through the API start with nothing and charge before paying.
    pub must_charge: bool,
    pub stop: AtomicBool,
    pub tally: Tally,
}

impl Shop {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A pause of about `ms` (half to one and a half of it), cut short by the stop.
    async fn pause(&self, ms: u64, rng: &mut StdRng) {
        if ms == 0 {
            return;
        }
        let ms = rng.gen_range(ms / 2..=ms + ms / 2);
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until && !self.stopped() {
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(Duration::from_millis(500))).await;
        }
    }

    async fn think(&self, rng: &mut StdRng) {
        self.pause(self.think_ms, rng).await;
    }
}

/// How long to wait before the next position poll: about half the ETA, within
/// [poll_ms, poll_max_ms].
pub fn poll_delay_ms(eta_seconds: u64, poll_ms: u64, poll_max_ms: u64) -> u64 {
    (eta_seconds * 1000 / 2).clamp(poll_ms, poll_ms.max(poll_max_ms))
}

/// Where a buyer is in the flow.
enum Step {
    Queue,
    Shop(String),
}

/// One buyer from arrival to leaving.
pub async fn run(shop: Arc<Shop>, user: Credentials, seed: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let outcome = visit(&shop, &user, &mut rng).await;
    Tally::add(&shop.tally.finished);
    outcome
}

async fn visit(shop: &Shop, user: &Credentials, rng: &mut StdRng) -> Outcome {
    let mut step = Step::Queue;
    let mut failures = 0u32;
    loop {
        if shop.stopped() {
            return Outcome::Stopped;
        }
        if failures > 20 {
            return Outcome::GaveUp;
        }
        step = match step {
            Step::Queue => match queue(shop, user, rng).await {
                Ok(Some(token)) => Step::Shop(token),
                Ok(None) => return Outcome::SoldOut,
                Err(Retry) => {
                    failures += 1;
                    shop.pause(1000, rng).await;
                    Step::Queue
                }
            },
            Step::Shop(token) => {
                shop.tally.active.fetch_add(1, Ordering::Relaxed);
                let outcome = buy(shop, user, &token, rng).await;
                shop.tally.active.fetch_sub(1, Ordering::Relaxed);
                match outcome {
                    Ok(outcome) => return outcome,
                    Err(Rejoin) => {
                        Tally::add(&shop.tally.rejoins);
                        failures += 1;
                        Step::Queue
                    }
                }
            }
        };
    }
}

struct Retry;
struct Rejoin;

/// Joins and waits for the turn: the queue token, or None when the schedule is sold out.
async fn queue(shop: &Shop, user: &Credentials, rng: &mut StdRng) -> Result<Option<String>, Retry> {
    let joined = shop.api.join(user, shop.schedule).await;
    if joined.status != 201 {
        return Err(Retry);
    }
    let body = joined.json();
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    let mut status = body["status"].as_str().unwrap_or_default().to_owned();
    let mut eta = body["eta_seconds"].as_u64().unwrap_or(0);
    let mut errors = 0;
    loop {
        match status.as_str() {
            "ACTIVE" => return Ok(Some(token)),
            "SOLD_OUT" => return Ok(None),
            "EXPIRED" => return Err(Retry),
            _ => {}
        }
        shop.pause(poll_delay_ms(eta, shop.poll_ms, shop.poll_max_ms), rng)
            .await;
        if shop.stopped() {
            return Err(Retry);
        }
        let now = shop.api.standing(user, &token).await;
        if now.ok() {
            let body = now.json();
            status = body["status"].as_str().unwrap_or_default().to_owned();
            eta = body["eta_seconds"].as_u64().unwrap_or(0);
        } else {
            errors += 1;
            if errors > 10 {
                return Err(Retry);
            }
        }
    }
}

/// The map, or what the gate said instead.
enum MapRead {
    Book(SeatBook),
    Rejoin,
    Retry,
}

async fn read_map(
    shop: &Shop,
    user: &Credentials,
    token: &str,
    etag: &mut Option<String>,
    last: Option<&SeatBook>,
) -> MapRead {
    let reply = shop
        .api
        .seat_map(
            user,
            token,
            shop.schedule,
            etag.as_deref(),
            MapForm::Compact,
        )
        .await;
    match reply.status {
        200 => {
            *etag = reply.etag.clone();
            match SeatBook::from_compact(&shop.layout, &reply.decoded()) {
                Some(book) => MapRead::Book(book),
                None => MapRead::Retry,
            }
        }
        304 => match last {
            Some(book) => MapRead::Book(book.clone()),
            None => {
                *etag = None;
                MapRead::Retry
            }
        },
        401 | 403 => MapRead::Rejoin,
        _ => MapRead::Retry,
    }
}

/// Admitted: read the map, hold, pay or walk away. Err: the turn ended, queue again.
async fn buy(
    shop: &Shop,
    user: &Credentials,
    token: &str,
    rng: &mut StdRng,
) -> Result<Outcome, Rejoin> {
    let mut etag: Option<String> = None;
    let mut book: Option<SeatBook> = None;
    let mut stale = true;
    let mut losses_since_read = 0;
    let mut errors = 0;
    let want = seats_wanted(rng);
    let reservation = loop {
        if shop.stopped() {
            return Ok(Outcome::Stopped);
        }
        if errors > 10 {
            return Ok(Outcome::GaveUp);
        }
        if stale {
            shop.think(rng).await;
            match read_map(shop, user, token, &mut etag, book.as_ref()).await {
                MapRead::Book(b) => book = Some(b),
                MapRead::Rejoin => return Err(Rejoin),
                MapRead::Retry => {
                    errors += 1;
                    shop.pause(1000, rng).await;
                    continue;
                }
            }
            stale = false;
            losses_since_read = 0;
        }
        let current = book.as_mut().expect("read above");
        let seats = current.pick(&shop.layout, want, shop.front_share, rng);
        if seats.is_empty() {
            if !current.any_held {
                return Ok(Outcome::NoSeats); // everything sold
            }
            // Only held seats are left: some may come back when their holds expire.
            shop.pause(shop.think_ms.max(1000) * 4, rng).await;
            stale = true;
            continue;
        }
        let reply = shop.api.hold(user, token, shop.schedule, &seats).await;
        let code = reply.code();
        if (reply.status, code.as_str()) == (503, "BUSY") {
            // Nothing was held; a person would wait the second it asks and click again.
            Tally::add(&shop.tally.holds_busy);
            shop.pause(1000, rng).await;
            continue;
        }
        Tally::add(&shop.tally.hold_attempts);
        match (reply.status, code.as_str()) {
            (201, _) => {
                Tally::add(&shop.tally.holds_won);
                break reply.json();
            }
            (409, "SEAT_UNAVAILABLE") => {
                Tally::add(&shop.tally.holds_lost);
                let named: Vec<i64> = reply.json()["error"]["details"]["seat_ids"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
                    .unwrap_or_default();
                // Lost in the database race: no names, so none of the picked seats.
                current.take(&shop.layout, if named.is_empty() { &seats } else { &named });
                losses_since_read += 1;
                stale = losses_since_read >= 3;
                // A person takes a moment to choose again.
                shop.pause(shop.think_ms / 2, rng).await;
            }
            (401 | 403, _) => {
                Tally::add(&shop.tally.holds_failed);
                return Err(Rejoin);
            }
            (409, _) => {
                // BOOKING_CLOSED or the like: nothing left to do here.
                Tally::add(&shop.tally.holds_failed);
                return Ok(Outcome::GaveUp);
            }
            _ => {
                Tally::add(&shop.tally.holds_failed);
                errors += 1;
                shop.pause(500, rng).await;
            }
        }
    };

    if rng.gen_bool(shop.abandon.clamp(0.0, 1.0)) {
        Tally::add(&shop.tally.abandoned);
        return Ok(Outcome::Abandoned);
    }
    shop.think(rng).await;
    let id = reservation["reservation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let amount = reservation["amount"].as_i64().unwrap_or(0);
    let seat_count = reservation["seats"].as_array().map_or(1, |s| s.len()) as u64;
    let expires_at = reservation["expires_at"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let mut charged = !shop.must_charge;
    for _ in 0..6 {
        if !charged {
            let reply = shop.api.charge(user, amount.clamp(1, 10_000_000)).await;
            charged = reply.ok();
        }
        let paid = shop.api.pay(user, token, &id).await;
        match (paid.status, paid.code().as_str()) {
            (200, _) => {
                Tally::add(&shop.tally.paid);
                shop.tally
                    .seats_paid
                    .fetch_add(seat_count, Ordering::Relaxed);
                return Ok(Outcome::Bought);
            }
            (402, _) => charged = false,
            (409, "ALREADY_CONFIRMED") => {
                Tally::add(&shop.tally.paid);
                shop.tally
                    .seats_paid
                    .fetch_add(seat_count, Ordering::Relaxed);
                return Ok(Outcome::Bought);
            }
            (409, "RESERVATION_EXPIRED") => {
                let early = expires_at
                    .is_some_and(|at| at.to_utc() - paid.sent_at > chrono::TimeDelta::seconds(1));
                Tally::add(if early {
                    &shop.tally.pay_expired_before_deadline
                } else {
                    &shop.tally.pay_expired_after_deadline
                });
                return Ok(Outcome::PaymentFailed);
            }
            (409 | 404 | 401 | 403, _) => return Ok(Outcome::PaymentFailed),
            _ => shop.pause(500, rng).await,
        }
    }
    Ok(Outcome::PaymentFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5 rows of 10: seat id = row * 100 + number.
    fn layout() -> Layout {
        Layout::new(
            (1..=5)
                .flat_map(|r| (1..=10).map(move |c| (r as i64 * 100 + c as i64, r)))
                .collect(),
        )
    }

    fn all_available(layout: &Layout) -> SeatBook {
        let mut book = SeatBook::empty(layout);
        (0..layout.len()).for_each(|at| book.set(at, true));
        book
    }

    #[test]
    fn picks_adjacent_seats_in_one_row() {
        let layout = layout();
        let book = all_available(&layout);
        let mut rng = StdRng::seed_from_u64(7);
        for want in 1..=4 {
            for _ in 0..100 {
                let seats = book.pick(&layout, want, 0.7, &mut rng);
                assert_eq!(seats.len(), want);
                let row = seats[0] / 100;
                assert!(seats.iter().all(|s| s / 100 == row), "{seats:?}");
                assert!(seats.windows(2).all(|w| w[1] == w[0] + 1), "{seats:?}");
            }
        }
    }

    #[test]
    fn most_picks_come_from_the_front_rows() {
        let layout = layout(); // front: row 1 (20% of 5 rows)
        let book = all_available(&layout);
        let mut rng = StdRng::seed_from_u64(1);
        let front = (0..10_000)
            .filter(|_| book.pick(&layout, 1, 0.7, &mut rng)[0] / 100 == 1)
            .count();
        // 70% directly, plus a fifth of the other 30%.
        assert!((7_300..=7_900).contains(&front), "{front}");
    }

    #[test]
    fn picks_only_available_seats_and_nothing_when_none() {
        let layout = layout();
        let mut book = SeatBook::empty(&layout);
        assert!(book
            .pick(&layout, 2, 0.7, &mut StdRng::seed_from_u64(1))
            .is_empty());
        book.set(layout.index[&305], true);
        book.set(layout.index[&307], true);
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let seats = book.pick(&layout, 3, 0.7, &mut rng);
            assert_eq!(seats.len(), 1, "gaps are not adjacent: {seats:?}");
            assert!(seats[0] == 305 || seats[0] == 307);
        }
        book.take(&layout, &[305, 307, 999]);
        assert_eq!(book.available_count(), 0);
    }

    #[test]
    fn reads_a_compact_seat_map() {
        let layout = layout();
        let mut letters = vec![b'S'; layout.len()];
        letters[layout.index[&101]] = b'A';
        letters[layout.index[&510]] = b'A';
        letters[layout.index[&103]] = b'H';
        let body = serde_json::json!({
            "schedule_id": "x",
            "version": 7,
            "available_seats": 2,
            "statuses": String::from_utf8(letters).unwrap(),
        });
        let book = SeatBook::from_compact(&layout, body.to_string().as_bytes()).unwrap();
        assert_eq!(book.available_count(), 2);
        assert!(book.is_available(layout.index[&510]));
        assert!(!book.is_available(layout.index[&102]));
        assert!(book.any_held);
        assert!(SeatBook::from_compact(&layout, b"not json").is_none());
        let short = serde_json::json!({ "statuses": "AAA" }).to_string();
        assert!(SeatBook::from_compact(&layout, short.as_bytes()).is_none());
    }

    #[test]
    fn seat_counts_and_poll_delays_stay_in_bounds() {
        let mut rng = StdRng::seed_from_u64(9);
        assert!((0..1000).all(|_| (1..=4).contains(&seats_wanted(&mut rng))));
        assert_eq!(poll_delay_ms(0, 1000, 10_000), 1000);
        assert_eq!(poll_delay_ms(6, 1000, 10_000), 3000);
        assert_eq!(poll_delay_ms(3600, 1000, 10_000), 10_000);
        assert_eq!(poll_delay_ms(3600, 1000, 30_000), 30_000);
        assert_eq!(poll_delay_ms(3600, 2000, 500), 2000);
    }
}

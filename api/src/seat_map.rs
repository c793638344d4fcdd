//! Seat maps served from memory. Each API process keeps, per schedule in use, the static
//! layout (loaded once) and every seat's status, fed by the seat-change channel in Redis and
//! checked against Redis' version every half second, so what one process or worker changes
//! the others serve within a second. Responses are rendered at most every 200 ms and kept
//! ready as JSON and gzip, so a read under load costs a lookup, not a query.

use crate::dto::{
    CompactSeatMap, GradePrice, MapSeat, SeatLayout, SeatMap, SeatMapBody, SeatStreamEvent,
};
use crate::routes::CATALOG_CHANNEL;
use bytes::Bytes;
use flate2::{write::GzEncoder, Compression};
use futures::StreamExt;
use redis::aio::ConnectionManager;
use seatline_domain::{ScheduleId, SeatStatus};
use seatline_storage::{
    catalog,
    seat_cache::{self, SeatChanges, CHANGES_CHANNEL},
    Pool,
};
use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

const RENDER_EVERY: Duration = Duration::from_millis(200);
const RESYNC_EVERY: Duration = Duration::from_millis(500);

type Slot = Arc<tokio::sync::OnceCell<Arc<ScheduleMap>>>;

#[derive(Clone)]
pub struct SeatMaps {
    /// One slot per schedule, so concurrent first requests load its map once.
    maps: Arc<Mutex<HashMap<ScheduleId, Slot>>>,
    pool: Pool,
    redis: ConnectionManager,
    /// The process' catalogue listings, dropped with the maps when an organizer changes them.
    catalog: Option<Arc<crate::catalog_cache::CatalogCache>>,
}

pub struct ScheduleMap {
    pub schedule: ScheduleId,
    layout: Vec<catalog::SeatView>,
    index: HashMap<i64, usize>,
    grades: Vec<GradePrice>,
    state: RwLock<MapState>,
    /// Seat changes as SSE payloads, for the live streams.
    pub changes: broadcast::Sender<Arc<str>>,
}

struct MapState {
    statuses: Vec<u8>,
    version: i64,
    /// A change was missed (its version skipped one): equal versions no longer prove the
    /// statuses equal, so the next check reloads them.
    missed_change: bool,
    rendered: Option<Rendered>,
}

/// A seat-map answer ready to send.
#[derive(Clone)]
pub struct Rendered {
    pub version: i64,
    /// A digest of the statuses: with the version, the ETag. A Redis that went back can
    /// number two different maps alike, and then only the digest tells them apart.
    pub digest: u64,
    pub json: Bytes,
    pub gzip: Bytes,
    pub compact: Bytes,
    pub compact_gzip: Bytes,
    at: Instant,
}

impl SeatMaps {
    pub fn new(pool: Pool, redis: ConnectionManager) -> Self {
        Self {
            maps: Default::default(),
            pool,
            redis,
            catalog: None,
        }
    }

    /// The schedule's map, loading it on first use. `None` for an unknown schedule.
    pub async fn get(&self, schedule: ScheduleId) -> anyhow::Result<Option<Arc<ScheduleMap>>> {
        let slot = self
            .maps
            .lock()
            .expect("lock")
            .entry(schedule)
            .or_default()
            .clone();
        let loaded = slot
            .get_or_try_init(|| async {
                match self.load(schedule).await {
                    Ok(Some(map)) => Ok(map),
                    Ok(None) => Err(None),
                    Err(err) => Err(Some(err)),
                }
            })
            .await;
        match loaded {
            Ok(map) => Ok(Some(map.clone())),
            Err(failure) => {
                // Unknown (perhaps not yet created) or failed: let a later request try again.
                self.maps.lock().expect("lock").remove(&schedule);
                failure.map_or(Ok(None), Err)
            }
        }
    }

    async fn load(&self, schedule: ScheduleId) -> anyhow::Result<Option<Arc<ScheduleMap>>> {
        let layout = catalog::seat_map(&self.pool, schedule).await?;
        if layout.is_empty() {
            return Ok(None);
        }
        let grades = catalog::grade_prices(&self.pool, schedule)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let index = layout
            .iter()
            .enumerate()
            .map(|(i, s)| (s.seat_id, i))
            .collect();
        let statuses = vec![b'A'; layout.len()];
        let map = Arc::new(ScheduleMap {
            schedule,
            layout,
            index,
            grades,
            state: RwLock::new(MapState {
                statuses,
                version: -1,
                missed_change: false,
                rendered: None,
            }),
            changes: broadcast::channel(4_096).0,
        });
        self.resync(&map).await?;
        Ok(Some(map))
    }

    fn loaded(&self) -> Vec<Arc<ScheduleMap>> {
        let maps = self.maps.lock().expect("lock");
        maps.values()
            .filter_map(|slot| slot.get().cloned())
            .collect()
    }

    /// Listings to drop along with the maps when the catalogue changes.
    pub fn with_catalog(mut self, catalog: Arc<crate::catalog_cache::CatalogCache>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Drops what this process keeps of a schedule (its layout or prices changed); the next
    /// request loads it again. Open streams keep the old map until they reconnect.
    pub fn forget(&self, schedule: ScheduleId) {
        self.maps.lock().expect("lock").remove(&schedule);
    }

    pub fn forget_all(&self) {
        self.maps.lock().expect("lock").clear();
    }

    /// Reloads every status from Redis (rebuilding Redis from PostgreSQL if it must).
    async fn resync(&self, map: &ScheduleMap) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        seat_cache::ensure_ready(&mut redis, &self.pool, map.schedule).await?;
        let (version, seats) = seat_cache::snapshot(&mut redis, map.schedule).await?;
        let mut state = map.state.write().expect("lock");
        for (id, letter) in seats {
            if let Some(&i) = map.index.get(&id) {
                state.statuses[i] = letter;
            }
        }
        state.version = version;
        state.missed_change = false;
        // Statuses may have changed under an unchanged version: render afresh.
        state.rendered = None;
        Ok(())
    }

    fn apply(&self, changes: SeatChanges) {
        let schedule = ScheduleId::from(changes.schedule_id);
        let slot = self.maps.lock().expect("lock").get(&schedule).cloned();
        let Some(map) = slot.and_then(|s| s.get().cloned()) else {
            return;
        };
        {
            let mut state = map.state.write().expect("lock");
            for c in &changes.changes {
                if let Some(&i) = map.index.get(&c.seat_id) {
                    state.statuses[i] = c.status.letter();
                }
            }
            // Redis numbers the changes of a schedule one by one and publishes them in order,
            // so a gap is a message lost while unsubscribed (or a Redis that went back).
            if changes.version != state.version + 1 {
                state.missed_change = true;
            }
            state.version = state.version.max(changes.version);
        }
        let event = SeatStreamEvent {
            version: changes.version,
            changes: &changes.changes,
        };
        let payload = serde_json::to_string(&event).expect("a DTO serializes");
        let _ = map.changes.send(payload.into());
    }

    /// Follows the seat-change channel and re-checks versions, until `stop` is cancelled
    /// (the application shuts down).
    pub fn spawn_followers(&self, redis_url: String, stop: CancellationToken) {
        let maps = self.clone();
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    followed = maps.follow_changes(&redis_url) => {
                        if let Err(err) = followed {
                            tracing::warn!(error = %err, "seat-change channel lost; reconnecting");
                        }
                    }
                    _ = stopped.cancelled() => return,
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped.cancelled() => return,
                }
            }
        });
        let maps = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RESYNC_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop.cancelled() => return,
                }
                for map in maps.loaded() {
                    let mut redis = maps.redis.clone();
                    let (ours, missed) = {
                        let state = map.state.read().expect("lock");
                        (state.version, state.missed_change)
                    };
                    match seat_cache::version(&mut redis, map.schedule).await {
                        Ok(theirs) if theirs == ours && theirs > 0 && !missed => {}
                        Ok(_) => {
                            if let Err(err) = maps.resync(&map).await {
                                tracing::warn!(error = %err, "seat map resync failed");
                            }
                        }
                        Err(err) => tracing::warn!(error = %err, "seat map version check failed"),
                    }
                }
            }
        });
    }

    async fn follow_changes(&self, redis_url: &str) -> anyhow::Result<()> {
        let client = redis::Client::open(redis_url)?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(CHANGES_CHANNEL).await?;
        pubsub.subscribe(CATALOG_CHANNEL).await?;
        // Anything missed while not subscribed is caught by the next version check.
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let payload: String = message.get_payload()?;
            if message.get_channel_name() == CATALOG_CHANNEL {
                match ScheduleId::parse(&payload) {
                    Ok(schedule) => self.forget(schedule),
                    Err(_) => self.forget_all(),
                }
                if let Some(catalog) = &self.catalog {
                    catalog.clear();
                }
                continue;
            }
            match serde_json::from_str::<SeatChanges>(&payload) {
                Ok(changes) => self.apply(changes),
                Err(err) => tracing::warn!(error = %err, "unreadable seat change"),
            }
        }
        anyhow::bail!("subscription ended")
    }
}

fn gzipped(text: &[u8]) -> Bytes {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = gz.write_all(text);
    Bytes::from(gz.finish().unwrap_or_default())
}

impl ScheduleMap {
    pub fn contains(&self, seat: i64) -> bool {
        self.index.contains_key(&seat)
    }

    pub fn available(&self) -> usize {
        let state = self.state.read().expect("lock");
        state.statuses.iter().filter(|s| **s == b'A').count()
    }

    /// The current answer, rendered again when it is older than 200 ms and out of date.
    pub fn rendered(&self) -> Rendered {
        {
            let state = self.state.read().expect("lock");
            if let Some(r) = &state.rendered {
                if r.version == state.version || r.at.elapsed() < RENDER_EVERY {
                    return r.clone();
                }
            }
        }
        let mut state = self.state.write().expect("lock");
        if let Some(r) = &state.rendered {
            if r.version == state.version || r.at.elapsed() < RENDER_EVERY {
                return r.clone();
            }
        }
        let rendered = self.render(&state.statuses, state.version);
        state.rendered = Some(rendered.clone());
        rendered
    }

    fn render(&self, statuses: &[u8], version: i64) -> Rendered {
        let seats: Vec<_> = self
            .layout
            .iter()
            .zip(statuses)
            .map(|(s, status)| MapSeat {
                seat_id: s.seat_id,
                row: s.row,
                number: s.number,
                grade: &s.grade,
                price: s.price,
                status: SeatStatus::from_letter(*status),
            })
            .collect();
        let available = statuses.iter().filter(|s| **s == b'A').count();
        let digest = {
            use std::hash::{Hash, Hasher};
            // Fixed keys: every API process gives the same map the same digest.
            let mut hasher = std::hash::DefaultHasher::new();
            statuses.hash(&mut hasher);
            hasher.finish()
        };
        let full = SeatMapBody::Full(SeatMap {
            schedule_id: self.schedule.as_uuid(),
            version,
            total_seats: self.layout.len(),
            available_seats: available,
            grades: &self.grades,
            seats,
        });
        let statuses = String::from_utf8_lossy(statuses);
        let compact = SeatMapBody::Compact(CompactSeatMap {
            schedule_id: self.schedule.as_uuid(),
            version,
            available_seats: available,
            statuses: &statuses,
        });
        let json = serde_json::to_vec(&full).expect("a DTO serializes");
        let compact = serde_json::to_vec(&compact).expect("a DTO serializes");
        Rendered {
            version,
            digest,
            gzip: gzipped(&json),
            json: Bytes::from(json),
            compact_gzip: gzipped(&compact),
            compact: Bytes::from(compact),
            at: Instant::now(),
        }
    }

    /// The static layout: seat ids, rows, numbers, grades and prices, in the order of the
    /// compact form's status string. It never changes.
    pub fn layout_json(&self) -> String {
        let layout = SeatLayout {
            schedule_id: self.schedule.as_uuid(),
            columns: ["seat_id", "row", "number", "grade", "price"],
            grades: &self.grades,
            seats: self
                .layout
                .iter()
                .map(|s| (s.seat_id, s.row, s.number, s.grade.as_str(), s.price))
                .collect(),
        };
        serde_json::to_string(&layout).expect("a DTO serializes")
    }
}

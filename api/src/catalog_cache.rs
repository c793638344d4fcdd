//! The concert list, each concert's schedules (with `available_seats`) and each schedule's
//! pre-queue draw, kept ready for at most a second per process. Under load a listing costs a lookup instead of a query, and
//! what any process or worker changes is served within a second.

use bytes::Bytes;
use seatline_domain::{ConcertId, ScheduleId};
use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::time::Instant;

/// How long a listing is served before it is read again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Listing {
    Concerts,
    Schedules(ConcertId),
    /// A schedule's pre-queue draw: public, and after opening as long as its entries.
    PreQueue(ScheduleId),
}

/// A rendered answer and when it was read.
type Entry = Option<(Instant, Bytes)>;

#[derive(Default)]
pub struct CatalogCache {
    /// One lock per listing, so a stale listing is read once however many ask at that moment.
    slots: Mutex<HashMap<Listing, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl CatalogCache {
    /// Forgets every listing (an organizer changed the catalogue).
    pub fn clear(&self) {
        self.slots.lock().expect("lock").clear();
    }

    /// The listing, from memory while it is fresh, else from `load` (whose error is passed on
    /// and not kept).
    pub async fn get<E, F, Fut>(&self, listing: Listing, load: F) -> Result<Option<Bytes>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Bytes>, E>>,
    {
        let slot = self
            .slots
            .lock()
            .expect("lock")
            .entry(listing)
            .or_default()
            .clone();
        let mut entry = slot.lock().await;
        if let Some((read_at, answer)) = &*entry {
            if read_at.elapsed() < FRESH_FOR {
                return Ok(Some(answer.clone()));
            }
        }
        let read_at = Instant::now();
        let Some(answer) = load().await? else {
            // Not kept: made-up concert ids must not grow the cache.
            self.slots.lock().expect("lock").remove(&listing);
            return Ok(None);
        };
        *entry = Some((read_at, answer.clone()));
        Ok(Some(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn counted(cache: &CatalogCache, loads: &AtomicUsize) -> Option<Bytes> {
        cache
            .get(Listing::Concerts, || async {
                let n = loads.fetch_add(1, Ordering::SeqCst) + 1;
                Ok::<_, ()>(Some(Bytes::from(n.to_string())))
            })
            .await
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_listing_is_read_once_a_second_however_often_asked() {
        let (cache, loads) = (CatalogCache::default(), AtomicUsize::new(0));
        for _ in 0..100 {
            assert_eq!(counted(&cache, &loads).await.unwrap(), "1");
        }
        tokio::time::advance(FRESH_FOR).await;
        assert_eq!(counted(&cache, &loads).await.unwrap(), "2");
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unknown_concerts_leave_nothing_behind() {
        let cache = CatalogCache::default();
        for _ in 0..3 {
            let missing = cache
                .get(Listing::Schedules(ConcertId::new()), || async {
                    Ok::<_, ()>(None)
                })
                .await;
            assert_eq!(missing, Ok(None));
        }
        assert!(cache.slots.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn failures_are_not_kept() {
        let cache = CatalogCache::default();
        let failed = cache
            .get(Listing::Concerts, || async {
                Err::<Option<Bytes>, _>("down")
            })
            .await;
        assert_eq!(failed, Err("down"));
        let loads = AtomicUsize::new(0);
        assert_eq!(counted(&cache, &loads).await.unwrap(), "1");
    }
}

//! Which sessions have ended, as this API process knows it: access tokens of ended sessions
//! are refused. Apart from `auth` and `state`, so neither imports the other.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Sessions ended recently, as this process knows them: read from PostgreSQL every second,
/// plus the ones ended here, known at once. Only sessions whose access tokens may still be
/// valid are read.
#[derive(Clone, Default)]
pub struct SessionRevocations {
    from_database: Arc<RwLock<HashSet<Uuid>>>,
    ended_here: Arc<RwLock<HashMap<Uuid, Instant>>>,
}

/// How long a session ended here is remembered locally: by then the database read has it.
const ENDED_HERE_FOR: Duration = Duration::from_secs(10);

impl SessionRevocations {
    pub fn is_ended(&self, session: Uuid) -> bool {
        self.from_database.read().expect("lock").contains(&session)
            || self.ended_here.read().expect("lock").contains_key(&session)
    }

    pub fn mark_ended(&self, session: Uuid) {
        self.ended_here
            .write()
            .expect("lock")
            .insert(session, Instant::now());
    }

    /// Follows `sessions` until `stop` is cancelled.
    pub fn spawn_follower(
        &self,
        pool: seatline_storage::Pool,
        ttl_seconds: u64,
        stop: CancellationToken,
    ) {
        let this = self.clone();
        // Tokens issued just before a session ended stay valid for a TTL; keep a margin.
        let window = ttl_seconds as i64 + 60;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                match seatline_storage::accounts::ended_sessions(&pool, window).await {
                    Ok(ended) => {
                        *this.from_database.write().expect("lock") = ended.into_iter().collect()
                    }
                    Err(err) => tracing::warn!(error = %err, "could not read ended sessions"),
                }
                this.ended_here
                    .write()
                    .expect("lock")
                    .retain(|_, at| at.elapsed() < ENDED_HERE_FOR);
            }
        });
    }
}

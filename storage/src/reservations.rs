//! Holds, confirmations and releases. Each is one transaction and safe to repeat: activities
//! retry, so a second run of the same step finds its work done and reports the same result.

use crate::decode;
use crate::{constraint, violated_constraint, Actor};
use chrono::{DateTime, Utc};
use seatline_domain::{
    AuditKind, PaymentMethod, PaymentStatus, ReservationId, ReservationStatus, ScheduleId,
    SeatStatus, UserId,
};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct ReservedSeat {
    pub seat_id: i64,
    pub row: i32,
    pub number: i32,
    pub grade: String,
    pub price: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reservation {
    pub id: Uuid,
    pub user_id: Uuid,
    pub schedule_id: Uuid,
    pub status: ReservationStatus,
    pub amount: i64,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub seats: Vec<ReservedSeat>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub kind: String,
    pub actor: String,
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

pub struct HoldRequest<'a> {
    pub reservation: ReservationId,
    pub user: UserId,
    pub schedule: ScheduleId,
    pub seat_ids: &'a [i64],
    pub expiry: HoldExpiry,
    /// Seats one buyer may hold or own in the schedule; `None`: no cap.
    pub max_seats_per_buyer: Option<u32>,
}

/// When a hold ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldExpiry {
    /// This long after the hold commits, by the database's clock.
    After(std::time::Duration),
    /// At a fixed moment (holds of runs that fixed it up front).
    At(DateTime<Utc>),
}

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("seats {0:?} are held or sold")]
    Unavailable(Vec<i64>),
    #[error("seats {0:?} are not part of this schedule")]
    UnknownSeats(Vec<i64>),
    #[error("the buyer holds or owns {owned} seats of this schedule; {limit} is the most")]
    PurchaseLimit { limit: u32, owned: u32 },
    /// A retry of a hold whose reservation has since ended (expired, cancelled, swept).
    #[error("the reservation is {0}, no longer held")]
    Ended(ReservationStatus),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Claims every requested seat for the reservation, or none of them.
///
/// Safe when attempts overlap (an attempt Temporal gave up on may still be running when the
/// next starts): seats already held by this very reservation count as won, and the
/// reservation row is created at most once.
#[tracing::instrument(skip(pool, req), fields(reservation_id = %req.reservation, user_id = %req.user))]
pub async fn hold_seats(pool: &PgPool, req: HoldRequest<'_>) -> Result<Reservation, HoldError> {
    if let Some(existing) = get_reservation(pool, req.reservation).await? {
        return held_already(existing); // a retry of a hold that already committed
    }
    let mut tx = pool.begin().await?;
    if let Some(limit) = req.max_seats_per_buyer {
        // The buyer's row lock makes their holds take turns, so two at once can't both pass.
        sqlx::query!(
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            req.user.as_uuid()
        )
        .fetch_optional(&mut *tx)
        .await?;
        let owned = seats_of_buyer(&mut *tx, req.user, req.schedule).await?;
        if owned + req.seat_ids.len() as u32 > limit {
            return Err(HoldError::PurchaseLimit { limit, owned });
        }
    }
    // Lock in seat order so two multi-seat holds can't deadlock.
    let seats = sqlx::query!(
        r#"SELECT i.seat_id, i.status, i.reservation_id, s.row_number, s.seat_number, s.grade,
                  COALESCE(i.price, s.price) AS "price!"
           FROM seat_inventory i JOIN seats s ON s.id = i.seat_id
           WHERE i.schedule_id = $1 AND i.seat_id = ANY($2)
           ORDER BY i.seat_id FOR UPDATE OF i"#,
        req.schedule.as_uuid(),
        req.seat_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    let unknown: Vec<i64> = req
        .seat_ids
        .iter()
        .copied()
        .filter(|id| !seats.iter().any(|s| s.seat_id == *id))
        .collect();
    if !unknown.is_empty() {
        return Err(HoldError::UnknownSeats(unknown));
    }
    let ours = Some(req.reservation.as_uuid());
    if seats.iter().all(|s| s.reservation_id == ours) {
        // An earlier attempt committed while this one waited for the seat locks.
        tx.rollback().await?;
        return match get_reservation(pool, req.reservation).await? {
            Some(existing) => held_already(existing),
            None => Err(HoldError::Database(sqlx::Error::RowNotFound)),
        };
    }
    let taken: Vec<i64> = seats
        .iter()
        .filter(|s| s.status != SeatStatus::Available.as_str() && s.reservation_id != ours)
        .map(|s| s.seat_id)
        .collect();
    if !taken.is_empty() {
        return Err(HoldError::Unavailable(taken));
    }
    let amount: i64 = seats.iter().map(|s| s.price).sum();
    let expires_at = sqlx::query!(
        "INSERT INTO reservations (id, user_id, schedule_id, status, amount, expires_at)
         VALUES ($1, $2, $3, 'HELD', $4, COALESCE($5, now() + make_interval(secs => $6)))
         RETURNING expires_at",
        req.reservation.as_uuid(),
        req.user.as_uuid(),
        req.schedule.as_uuid(),
        amount,
        match req.expiry {
            HoldExpiry::At(at) => Some(at),
            HoldExpiry::After(_) => None,
        },
        match req.expiry {
            HoldExpiry::After(d) => d.as_secs_f64(),
            HoldExpiry::At(_) => 0.0,
        }
    )
    .fetch_one(&mut *tx)
    .await?
    .expires_at;
    let ids: Vec<i64> = seats.iter().map(|s| s.seat_id).collect();
    let prices: Vec<i64> = seats.iter().map(|s| s.price).collect();
    let claimed = sqlx::query!(
        "INSERT INTO reservation_seats (reservation_id, schedule_id, seat_id, price)
         SELECT $1, $2, seat_id, price FROM unnest($3::bigint[], $4::bigint[]) AS t(seat_id, price)",
        req.reservation.as_uuid(),
        req.schedule.as_uuid(),
        &ids,
        &prices
    )
    .execute(&mut *tx)
    .await;
    if let Err(err) = claimed {
        // Another attempt of this reservation inserted it first.
        if violated_constraint(&err) == Some(constraint::ONE_LIVE_CLAIM) {
            return Err(HoldError::Unavailable(ids));
        }
        return Err(err.into());
    }
    sqlx::query!(
        "UPDATE seat_inventory SET status = 'HELD', reservation_id = $1, version = version + 1, updated_at = now()
         WHERE schedule_id = $2 AND seat_id = ANY($3)",
        req.reservation.as_uuid(),
        req.schedule.as_uuid(),
        &ids
    )
    .execute(&mut *tx)
    .await?;
    record_event(
        &mut tx,
        req.reservation,
        AuditKind::Held,
        Actor::User,
        json!({ "seat_ids": ids, "amount": amount, "expires_at": expires_at }),
    )
    .await?;
    tx.commit().await?;
    get_reservation(pool, req.reservation)
        .await?
        .ok_or_else(|| HoldError::Database(sqlx::Error::RowNotFound))
}

/// Seats the buyer holds or owns in the schedule (live holds and confirmed reservations).
#[tracing::instrument(skip(executor), fields(user_id = %user))]
pub async fn seats_of_buyer<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    user: UserId,
    schedule: ScheduleId,
) -> Result<u32, sqlx::Error> {
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM reservation_seats rs
           JOIN reservations r ON r.id = rs.reservation_id
           WHERE r.user_id = $1 AND r.schedule_id = $2 AND r.status IN ('HELD', 'CONFIRMED')"#,
        user.as_uuid(),
        schedule.as_uuid()
    )
    .fetch_one(executor)
    .await?;
    Ok(count as u32)
}

/// A hold found committed: still HELD is a win; anything else has ended since.
fn held_already(existing: Reservation) -> Result<Reservation, HoldError> {
    match existing.status {
        ReservationStatus::Held => Ok(existing),
        ended => Err(HoldError::Ended(ended)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    pub balance: i64,
    pub amount: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("balance {balance} is less than {amount}")]
    InsufficientBalance { balance: i64, amount: i64 },
    #[error("reservation is {0}, not HELD")]
    NotHeld(ReservationStatus),
    #[error("reservation not found")]
    NotFound,
    /// A card payment with no verified provider success behind it.
    #[error("no verified provider event says this payment succeeded")]
    Unverified,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Pays a held reservation from the buyer's balance: seats SOLD, balance debited with a USE
/// entry, payment recorded, reservation CONFIRMED, audit events. One transaction.
#[tracing::instrument(skip(pool), fields(reservation_id = %id, user_id = %user))]
pub async fn confirm_with_balance(
    pool: &PgPool,
    id: ReservationId,
    user: UserId,
) -> Result<Confirmed, ConfirmError> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        "SELECT status, amount, user_id FROM reservations WHERE id = $1 FOR UPDATE",
        id.as_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ConfirmError::NotFound)?;
    if row.user_id != user.as_uuid() {
        return Err(ConfirmError::NotFound);
    }
    let already_used = sqlx::query_scalar!(
        "SELECT balance_after FROM balance_history WHERE reservation_id = $1 AND kind = 'USE'",
        id.as_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?;
    let status: ReservationStatus = decode(&row.status)?;
    if status == ReservationStatus::Confirmed {
        if let Some(balance) = already_used {
            // A retry of a confirmation that committed.
            return Ok(Confirmed {
                balance,
                amount: row.amount,
            });
        }
    }
    if status != ReservationStatus::Held {
        return Err(ConfirmError::NotHeld(status));
    }
    let debited = sqlx::query_scalar!(
        "UPDATE balances SET balance = balance - $2, updated_at = now()
         WHERE user_id = $1 AND balance >= $2 RETURNING balance",
        user.as_uuid(),
        row.amount
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(balance) = debited else {
        let balance = sqlx::query_scalar!(
            "SELECT balance FROM balances WHERE user_id = $1",
            user.as_uuid()
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.rollback().await?;
        let mut tx = pool.begin().await?;
        record_event(
            &mut tx,
            id,
            AuditKind::PaymentDeclined,
            Actor::User,
            json!({ "reason": "INSUFFICIENT_BALANCE", "balance": balance, "amount": row.amount }),
        )
        .await?;
        tx.commit().await?;
        return Err(ConfirmError::InsufficientBalance {
            balance,
            amount: row.amount,
        });
    };
    sqlx::query!(
        "INSERT INTO balance_history (user_id, kind, amount, balance_after, reservation_id)
         VALUES ($1, 'USE', $2, $3, $4)",
        user.as_uuid(),
        row.amount,
        balance,
        id.as_uuid()
    )
    .execute(&mut *tx)
    .await?;
    let payment_id = Uuid::new_v4();
    sqlx::query!(
        "INSERT INTO payments (id, reservation_id, user_id, method, amount, status)
         VALUES ($1, $2, $3, 'BALANCE', $4, 'APPLIED')",
        payment_id,
        id.as_uuid(),
        user.as_uuid(),
        row.amount
    )
    .execute(&mut *tx)
    .await?;
    sell_and_confirm(
        &mut tx,
        id,
        Actor::User,
        json!({ "method": PaymentMethod::Balance, "payment_id": payment_id, "amount": row.amount,
                "balance_after": balance }),
    )
    .await?;
    tx.commit().await?;
    Ok(Confirmed {
        balance,
        amount: row.amount,
    })
}

/// Whose card payment confirmed which schedule's seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardConfirmed {
    pub user: Uuid,
    pub schedule: Uuid,
    pub amount: i64,
}

/// Applies a successful card payment to its held reservation: payment APPLIED, seats SOLD,
/// reservation CONFIRMED, audit events. One transaction; a retry finds it done.
#[tracing::instrument(skip(pool), fields(reservation_id = %id))]
pub async fn confirm_with_card(
    pool: &PgPool,
    id: ReservationId,
    provider_payment_id: &str,
) -> Result<CardConfirmed, ConfirmError> {
    let mut tx = pool.begin().await?;
    let reservation = sqlx::query!(
        "SELECT status, amount, user_id, schedule_id FROM reservations WHERE id = $1 FOR UPDATE",
        id.as_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ConfirmError::NotFound)?;
    let payment = sqlx::query!(
        "SELECT status, amount FROM payments
         WHERE provider_payment_id = $1 AND reservation_id = $2 FOR UPDATE",
        provider_payment_id,
        id.as_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ConfirmError::NotFound)?;
    let confirmed = CardConfirmed {
        user: reservation.user_id,
        schedule: reservation.schedule_id,
        amount: payment.amount,
    };
    let payment_status: PaymentStatus = decode(&payment.status)?;
    if payment_status == PaymentStatus::Applied {
        return Ok(confirmed); // a retry of a confirmation that committed
    }
    if !crate::payments::success_verified(&mut *tx, provider_payment_id).await? {
        return Err(ConfirmError::Unverified);
    }
    let status: ReservationStatus = decode(&reservation.status)?;
    if status != ReservationStatus::Held || payment_status == PaymentStatus::Refunded {
        return Err(ConfirmError::NotHeld(status));
    }
    apply_card_payment(&mut tx, id, provider_payment_id, payment.amount, false).await?;
    tx.commit().await?;
    Ok(confirmed)
}

/// Payment APPLIED, then what every confirmation shares. `at_deadline`: applied by the
/// expiry itself, because the provider's success was recorded before the deadline.
async fn apply_card_payment(
    tx: &mut Transaction<'_, Postgres>,
    id: ReservationId,
    provider_payment_id: &str,
    amount: i64,
    at_deadline: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE payments SET status = 'APPLIED', updated_at = now() WHERE provider_payment_id = $1",
        provider_payment_id
    )
    .execute(&mut **tx)
    .await?;
    let mut details = json!({ "method": PaymentMethod::Card, "payment_id": provider_payment_id,
                              "amount": amount });
    if at_deadline {
        details["applied_at_deadline"] = json!(true);
    }
    sell_and_confirm(tx, id, Actor::Provider, details).await
}

/// The end every confirmation shares: seats SOLD, reservation CONFIRMED, and the audit events
/// of the payment and the confirmation.
async fn sell_and_confirm(
    tx: &mut Transaction<'_, Postgres>,
    id: ReservationId,
    actor: Actor,
    payment: Value,
) -> Result<(), sqlx::Error> {
    let sold = sqlx::query!(
        "UPDATE seat_inventory SET status = 'SOLD', version = version + 1, updated_at = now()
         WHERE reservation_id = $1 AND status = 'HELD'",
        id.as_uuid()
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "UPDATE reservations SET status = 'CONFIRMED', updated_at = now() WHERE id = $1",
        id.as_uuid()
    )
    .execute(&mut **tx)
    .await?;
    record_event(tx, id, AuditKind::PaymentApplied, actor, payment).await?;
    record_event(
        tx,
        id,
        AuditKind::Confirmed,
        actor,
        json!({ "seats_sold": sold.rows_affected() }),
    )
    .await
}

/// Gives the seats of a held reservation back. A reservation that is already final, or that
/// never got its seats, is left as it is. Returns the status the reservation ends with.
#[tracing::instrument(skip(pool), fields(reservation_id = %id))]
pub async fn release_hold(
    pool: &PgPool,
    id: ReservationId,
    to: ReservationStatus,
    actor: Actor,
    note: &str,
) -> Result<Option<ReservationStatus>, sqlx::Error> {
    Ok(release(pool, id, to, actor, false, note).await?.status)
}

/// The sweeper's release of a hold whose workflow is gone: EXPIRED, actor SYSTEM, and marked
/// `swept` in the audit log.
#[tracing::instrument(skip(pool), fields(reservation_id = %id))]
pub async fn sweep_hold(pool: &PgPool, id: ReservationId) -> Result<usize, sqlx::Error> {
    let released = release(
        pool,
        id,
        ReservationStatus::Expired,
        Actor::System,
        true,
        "",
    )
    .await?;
    Ok(released.seats)
}

/// What a release did: the status the reservation ends with (none if it does not exist) and
/// how many seats went back.
#[derive(Debug, Default)]
struct Released {
    status: Option<ReservationStatus>,
    seats: usize,
}

impl Released {
    /// Nothing released: the reservation had already ended as `status`.
    fn ended(status: ReservationStatus) -> Self {
        Self {
            status: Some(status),
            seats: 0,
        }
    }
}

async fn release(
    pool: &PgPool,
    id: ReservationId,
    to: ReservationStatus,
    actor: Actor,
    swept: bool,
    note: &str,
) -> Result<Released, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(status) = sqlx::query_scalar!(
        "SELECT status FROM reservations WHERE id = $1 FOR UPDATE",
        id.as_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Released::default());
    };
    let status: ReservationStatus = decode(&status)?;
    if status != ReservationStatus::Held {
        return Ok(Released::ended(status));
    }
    if to == ReservationStatus::Expired {
        // A card payment whose verified success was recorded before the deadline is honoured
        // even if its report reaches the workflow after the timer: it confirms, not expires.
        let paid_in_time = sqlx::query!(
            r#"SELECT p.provider_payment_id AS "provider_payment_id!", p.amount
               FROM payments p
               JOIN payment_webhook_events e
                 ON e.provider_payment_id = p.provider_payment_id AND e.status = 'SUCCEEDED'
               JOIN reservations r ON r.id = p.reservation_id
               WHERE p.reservation_id = $1 AND p.method = 'CARD' AND p.status IN ('PENDING', 'FAILED')
                 AND e.received_at <= r.expires_at
               ORDER BY e.received_at LIMIT 1
               FOR UPDATE OF p"#,
            id.as_uuid()
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(paid) = paid_in_time {
            apply_card_payment(&mut tx, id, &paid.provider_payment_id, paid.amount, true).await?;
            tx.commit().await?;
            return Ok(Released::ended(ReservationStatus::Confirmed));
        }
    }
    let released = sqlx::query_scalar!(
        "UPDATE reservation_seats SET released_at = now()
         WHERE reservation_id = $1 AND released_at IS NULL RETURNING seat_id",
        id.as_uuid()
    )
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE seat_inventory SET status = 'AVAILABLE', reservation_id = NULL, version = version + 1, updated_at = now()
         WHERE reservation_id = $1 AND status = 'HELD'",
        id.as_uuid()
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE reservations SET status = $2, updated_at = now() WHERE id = $1",
        id.as_uuid(),
        to.as_str()
    )
    .execute(&mut *tx)
    .await?;
    let mut details = if swept {
        json!({ "released_seat_ids": released, "swept": true })
    } else {
        json!({ "released_seat_ids": released })
    };
    if !note.is_empty() {
        details["reason"] = json!(note);
    }
    record_event(&mut tx, id, AuditKind::ended(to), actor, details).await?;
    tx.commit().await?;
    Ok(Released {
        status: Some(to),
        seats: released.len(),
    })
}

/// Holds past their expiry by more than `grace_seconds` (by the database's clock), oldest
/// first: each should have been released by its workflow already.
#[tracing::instrument(skip(pool))]
pub async fn stale_holds(
    pool: &PgPool,
    grace_seconds: i64,
    limit: i64,
) -> Result<Vec<ReservationId>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM reservations
         WHERE status = 'HELD' AND expires_at < now() - make_interval(secs => $1)
         ORDER BY expires_at LIMIT $2",
        grace_seconds as f64,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(ids.into_iter().map(ReservationId::from).collect())
}

pub(crate) async fn record_event(
    tx: &mut Transaction<'_, Postgres>,
    id: ReservationId,
    kind: AuditKind,
    actor: Actor,
    details: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO reservation_events (reservation_id, kind, actor, details) VALUES ($1, $2, $3, $4)",
        id.as_uuid(),
        kind.as_str(),
        actor.as_str(),
        details
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[tracing::instrument(skip(pool), fields(reservation_id = %id))]
pub async fn get_reservation(
    pool: &PgPool,
    id: ReservationId,
) -> Result<Option<Reservation>, sqlx::Error> {
    let mut found = load_reservations(pool, &[id.as_uuid()]).await?;
    Ok(found.pop())
}

/// A user's bookings, newest first.
#[tracing::instrument(skip(pool), fields(user_id = %user))]
pub async fn list_for_user(pool: &PgPool, user: UserId) -> Result<Vec<Reservation>, sqlx::Error> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM reservations WHERE user_id = $1 ORDER BY created_at DESC LIMIT 200",
        user.as_uuid()
    )
    .fetch_all(pool)
    .await?;
    load_reservations(pool, &ids).await
}

async fn load_reservations(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<Reservation>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, user_id, schedule_id, status, amount, expires_at, created_at, updated_at
         FROM reservations WHERE id = ANY($1) ORDER BY created_at DESC",
        ids
    )
    .fetch_all(pool)
    .await?;
    let seats = sqlx::query!(
        r#"SELECT rs.reservation_id, rs.seat_id, s.row_number, s.seat_number, s.grade, rs.price
           FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id
           WHERE rs.reservation_id = ANY($1) ORDER BY rs.seat_id"#,
        ids
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Reservation {
                seats: seats
                    .iter()
                    .filter(|s| s.reservation_id == r.id)
                    .map(|s| ReservedSeat {
                        seat_id: s.seat_id,
                        row: s.row_number,
                        number: s.seat_number,
                        grade: s.grade.clone(),
                        price: s.price,
                    })
                    .collect(),
                id: r.id,
                user_id: r.user_id,
                schedule_id: r.schedule_id,
                status: decode(&r.status)?,
                amount: r.amount,
                expires_at: r.expires_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
}

#[tracing::instrument(skip(pool), fields(reservation_id = %id))]
pub async fn events(pool: &PgPool, id: ReservationId) -> Result<Vec<AuditEvent>, sqlx::Error> {
    sqlx::query_as!(
        AuditEvent,
        "SELECT id, kind, actor, details, created_at FROM reservation_events
         WHERE reservation_id = $1 ORDER BY id",
        id.as_uuid()
    )
    .fetch_all(pool)
    .await
}

//! What must hold after a sellout, read from PostgreSQL and Temporal: no seat sold twice,
//! every hold resolved, no reservation workflow left open, money conserved.

use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::{Duration, Instant};
use temporalio_client::Client;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: &'static str,
    pub pass: bool,
    pub detail: String,
}

impl Check {
    pub fn json(&self) -> Value {
        json!({ "name": self.name, "pass": self.pass, "detail": self.detail })
    }
}

/// The seat figures of one schedule.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct SeatFigures {
    /// Seats with more than one live (unreleased) claim.
    pub double_claimed: i64,
    pub sold: i64,
    /// Seats of CONFIRMED reservations.
    pub confirmed_seats: i64,
    /// SOLD seats whose reservation is not CONFIRMED.
    pub sold_to_unconfirmed: i64,
}

pub fn no_double_sale(f: &SeatFigures) -> Check {
    Check {
        name: "no seat sold twice",
        pass: f.double_claimed == 0 && f.sold == f.confirmed_seats && f.sold_to_unconfirmed == 0,
        detail: format!(
            "{} seats with two live claims; {} SOLD, {} in CONFIRMED reservations; {} SOLD to an unconfirmed reservation",
            f.double_claimed, f.sold, f.confirmed_seats, f.sold_to_unconfirmed
        ),
    }
}

pub fn holds_resolved(held_reservations: i64, held_seats: i64, waited: Duration) -> Check {
    Check {
        name: "every hold resolved",
        pass: held_reservations == 0 && held_seats == 0,
        detail: format!(
            "{held_reservations} reservations and {held_seats} seats still HELD after waiting {:.0} s",
            waited.as_secs_f64()
        ),
    }
}

pub fn no_open_workflows(open: Option<usize>) -> Check {
    Check {
        name: "no open ReservationWorkflow",
        pass: open == Some(0),
        detail: match open {
            Some(n) => format!("{n} running for this schedule"),
            None => "Temporal could not be asked".into(),
        },
    }
}

/// One user's money: what the balance says and what the history adds up to.
#[derive(Debug, Clone, Copy, PartialEq, sqlx::FromRow)]
pub struct MoneyRow {
    pub user_id: Uuid,
    pub balance: i64,
    pub charged: i64,
    pub used: i64,
    pub refunded: i64,
}

impl MoneyRow {
    pub fn conserved(&self) -> bool {
        self.balance == self.charged - self.used + self.refunded
    }
}

/// Every balance agrees with its history, and what was used (less refunds) is what the
/// CONFIRMED reservations cost.
pub fn money_conserved(
    rows: &[MoneyRow],
    confirmed_amount: i64,
    applied_payments: i64,
    confirmed: i64,
) -> Check {
    let broken: Vec<&MoneyRow> = rows.iter().filter(|r| !r.conserved()).collect();
    let used: i64 = rows.iter().map(|r| r.used).sum();
    let refunded: i64 = rows.iter().map(|r| r.refunded).sum();
    let mut detail = format!(
        "{} of {} balances disagree with their history; USE {} - REFUND {} vs CONFIRMED {}; {} APPLIED payments for {} CONFIRMED reservations",
        broken.len(),
        rows.len(),
        used,
        refunded,
        confirmed_amount,
        applied_payments,
        confirmed
    );
    if let Some(first) = broken.first() {
        detail.push_str(&format!("; e.g. {first:?}"));
    }
    Check {
        name: "money conserved",
        pass: broken.is_empty()
            && used - refunded == confirmed_amount
            && applied_payments == confirmed,
        detail,
    }
}

pub async fn seat_figures(pool: &PgPool, schedule: Uuid) -> anyhow::Result<SeatFigures> {
    let double_claimed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
             SELECT seat_id FROM reservation_seats
             WHERE schedule_id = $1 AND released_at IS NULL
             GROUP BY seat_id HAVING count(*) > 1) AS twice",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    let sold: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM seat_inventory WHERE schedule_id = $1 AND status = 'SOLD'",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    let confirmed_seats: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
         WHERE r.schedule_id = $1 AND r.status = 'CONFIRMED'",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    let sold_to_unconfirmed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM seat_inventory i LEFT JOIN reservations r ON r.id = i.reservation_id
         WHERE i.schedule_id = $1 AND i.status = 'SOLD' AND r.status IS DISTINCT FROM 'CONFIRMED'",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    Ok(SeatFigures {
        double_claimed,
        sold,
        confirmed_seats,
        sold_to_unconfirmed,
    })
}

/// (HELD reservations, HELD seats) of the schedule.
pub async fn held(pool: &PgPool, schedule: Uuid) -> anyhow::Result<(i64, i64)> {
    let reservations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reservations WHERE schedule_id = $1 AND status = 'HELD'",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    let seats: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM seat_inventory WHERE schedule_id = $1 AND status = 'HELD'",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    Ok((reservations, seats))
}

pub async fn open_workflows(temporal: &Client, schedule: Uuid) -> anyhow::Result<usize> {
    let query = format!(
        "WorkflowType='ReservationWorkflow' AND ScheduleId='{schedule}' AND ExecutionStatus='Running'"
    );
    Ok(temporal
        .count_workflows(query, Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("counting workflows: {e}"))?
        .count())
}

pub async fn money_rows(pool: &PgPool, users: &[Uuid]) -> anyhow::Result<Vec<MoneyRow>> {
    Ok(sqlx::query_as::<_, MoneyRow>(
        "SELECT u.id AS user_id,
                COALESCE((SELECT b.balance FROM balances b WHERE b.user_id = u.id), 0) AS balance,
                COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'CHARGE'), 0)::bigint AS charged,
                COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'USE'), 0)::bigint AS used,
                COALESCE(SUM(h.amount) FILTER (WHERE h.kind = 'REFUND'), 0)::bigint AS refunded
         FROM unnest($1::uuid[]) AS u(id)
         LEFT JOIN balance_history h ON h.user_id = u.id
         GROUP BY u.id",
    )
    .bind(users)
    .fetch_all(pool)
    .await?)
}

/// (amount of CONFIRMED reservations, their count, APPLIED payments for them).
pub async fn confirmed_money(pool: &PgPool, schedule: Uuid) -> anyhow::Result<(i64, i64, i64)> {
    let (amount, count): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(amount), 0)::bigint, count(*) FROM reservations
         WHERE schedule_id = $1 AND status = 'CONFIRMED'",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    let applied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payments p JOIN reservations r ON r.id = p.reservation_id
         WHERE r.schedule_id = $1 AND r.status = 'CONFIRMED' AND p.status = 'APPLIED'",
    )
    .bind(schedule)
    .fetch_one(pool)
    .await?;
    Ok((amount, count, applied))
}

/// Waits for stragglers (holds resolve within `hold` + 10 s), then checks everything.
pub async fn check_all(
    pool: &PgPool,
    temporal: Option<&Client>,
    schedule: Uuid,
    users: &[Uuid],
    hold: Duration,
) -> anyhow::Result<Vec<Check>> {
    let started = Instant::now();
    let deadline = started + hold + Duration::from_secs(10);
    let mut held_now = held(pool, schedule).await?;
    while held_now != (0, 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        held_now = held(pool, schedule).await?;
    }
    let resolved = holds_resolved(held_now.0, held_now.1, started.elapsed());

    // Visibility lags a little behind the workflows themselves.
    let mut open = None;
    if let Some(temporal) = temporal {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            open = open_workflows(temporal, schedule).await.ok();
            if open == Some(0) || Instant::now() > until {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    let seats = seat_figures(pool, schedule).await?;
    let rows = money_rows(pool, users).await?;
    let (amount, confirmed, applied) = confirmed_money(pool, schedule).await?;
    Ok(vec![
        no_double_sale(&seats),
        resolved,
        no_open_workflows(open),
        money_conserved(&rows, amount, applied, confirmed),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(balance: i64, charged: i64, used: i64, refunded: i64) -> MoneyRow {
        MoneyRow {
            user_id: Uuid::nil(),
            balance,
            charged,
            used,
            refunded,
        }
    }

    #[test]
    fn money_adds_up_or_says_where_not() {
        let rows = [
            row(1_000_000, 1_000_000, 0, 0),
            row(900_000, 1_000_000, 100_000, 0),
            row(1_000_000, 1_000_000, 70_000, 70_000),
        ];
        assert!(money_conserved(&rows, 100_000, 1, 1).pass);
        // A used amount that no confirmed reservation accounts for.
        assert!(!money_conserved(&rows, 170_000, 2, 2).pass);
        // A confirmed reservation without its APPLIED payment.
        assert!(!money_conserved(&rows, 100_000, 0, 1).pass);
        // A balance that its history does not explain.
        let broken = [row(950_000, 1_000_000, 0, 0)];
        let check = money_conserved(&broken, 0, 0, 0);
        assert!(!check.pass);
        assert!(check.detail.starts_with("1 of 1"), "{}", check.detail);
    }

    #[test]
    fn seat_checks() {
        let ok = SeatFigures {
            double_claimed: 0,
            sold: 150,
            confirmed_seats: 150,
            sold_to_unconfirmed: 0,
        };
        assert!(no_double_sale(&ok).pass);
        assert!(
            !no_double_sale(&SeatFigures {
                double_claimed: 1,
                ..ok
            })
            .pass
        );
        assert!(!no_double_sale(&SeatFigures { sold: 151, ..ok }).pass);
        assert!(
            !no_double_sale(&SeatFigures {
                sold_to_unconfirmed: 1,
                ..ok
            })
            .pass
        );
        assert!(holds_resolved(0, 0, Duration::ZERO).pass);
        assert!(!holds_resolved(1, 0, Duration::ZERO).pass);
        assert!(no_open_workflows(Some(0)).pass);
        assert!(!no_open_workflows(Some(2)).pass);
        assert!(!no_open_workflows(None).pass);
    }
}

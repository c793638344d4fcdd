use crate::common::*;
use futures::future::join_all;
use std::{collections::HashSet, time::Duration};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_then_pay_confirms_sells_and_debits() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(2, 5).await;
    let buyer = api.user("Kim").await;
    assert_eq!(
        api.charge(&buyer, 1_000_000).await.body["balance"],
        1_000_000
    );

    let held = api.hold(&buyer, schedule, &seats[..2]).await;
    assert_eq!(held.status, 201, "{}", held.body);
    assert_eq!(held.body["status"], "HELD");
    assert_eq!(held.body["seats"].as_array().unwrap().len(), 2);
    assert!(held.body["expires_at"].is_string());
    let amount = held.body["amount"].as_i64().unwrap();
    assert!(amount > 0);
    let id = reservation_id(&held);
    api.wait_seat(&buyer, schedule, seats[0], "HELD").await;

    let paid = api.pay(&buyer, &id).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["status"], "CONFIRMED");
    assert_eq!(paid.body["balance"].as_i64().unwrap(), 1_000_000 - amount);

    assert_eq!(
        api.reservation(&buyer, &id).await.body["status"],
        "CONFIRMED"
    );
    for seat in &seats[..2] {
        api.wait_seat(&buyer, schedule, *seat, "SOLD").await;
    }
    api.wait_seat(&buyer, schedule, seats[2], "AVAILABLE").await;
    assert_eq!(api.balance(&buyer).await, 1_000_000 - amount);

    let history = api
        .get("/api/v1/users/me/balance/history", &buyer.token)
        .await;
    let kinds: Vec<(&str, i64)> = history.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("USE", amount), ("CHARGE", 1_000_000)]);

    let events = api
        .get(&format!("/api/v1/reservations/{id}/events"), &buyer.token)
        .await;
    let kinds: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["HELD", "PAYMENT_APPLIED", "CONFIRMED"]);
    assert!(events.body["events"][0]["created_at"].is_string());

    let mine = api.get("/api/v1/users/me/reservations", &buyer.token).await;
    assert_eq!(mine.body["reservations"][0]["reservation_id"], id.as_str());

    // Paying ended the buyer's turn in the waiting room.
    api.hold(&buyer, schedule, &seats[2..3])
        .await
        .assert_error(401, "TOKEN_EXPIRED");
    // Sold means sold: nobody can hold it again, not even the buyer back from the queue.
    *buyer.queue.lock().unwrap() = None;
    let again = api.hold(&buyer, schedule, &seats[..1]).await;
    again.assert_error(409, "SEAT_UNAVAILABLE");
    let other = api.user("Lee").await;
    api.hold(&other, schedule, &seats[1..2])
        .await
        .assert_error(409, "SEAT_UNAVAILABLE");
    // Paying twice debits once.
    api.pay(&buyer, &id)
        .await
        .assert_error(409, "ALREADY_CONFIRMED");
    assert_eq!(api.balance(&buyer).await, 1_000_000 - amount);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_buyers_race_for_one_seat_and_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let (schedule, seats) = app.schedule(1, 3).await;
    let buyers = app.api.users(30).await;
    let seat = seats[1];
    let replies = join_all(buyers.iter().map(|b| {
        let api = app.api.clone();
        async move { api.hold(b, schedule, &[seat]).await }
    }))
    .await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one hold wins");
    for loser in replies.iter().filter(|r| r.status != 201) {
        loser.assert_error(409, "SEAT_UNAVAILABLE");
        assert_eq!(loser.body["error"]["details"]["seat_ids"][0], seat);
    }
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reservation_seats WHERE schedule_id = $1 AND seat_id = $2 AND released_at IS NULL",
    )
    .bind(schedule.as_uuid())
    .bind(seat)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(live, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_seat_hold_that_conflicts_on_one_seat_takes_none() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 6).await;
    let (first, second) = (api.user("A").await, api.user("B").await);
    assert_eq!(api.hold(&first, schedule, &[seats[2]]).await.status, 201);

    let conflict = api.hold(&second, schedule, &seats[1..4]).await;
    conflict.assert_error(409, "SEAT_UNAVAILABLE");
    assert_eq!(
        conflict.body["error"]["details"]["seat_ids"],
        serde_json::json!([seats[2]])
    );
    api.wait_seat(&second, schedule, seats[1], "AVAILABLE")
        .await;
    api.wait_seat(&second, schedule, seats[3], "AVAILABLE")
        .await;

    // The same conflict decided in the database, not the pre-check: two overlapping
    // multi-seat holds at once. At most one wins; the loser takes nothing.
    let buyers = api.users(2).await;
    let wanted = [vec![seats[3], seats[4]], vec![seats[4], seats[5]]];
    let replies = join_all(buyers.iter().zip(wanted.iter()).map(|(b, w)| {
        let api = api.clone();
        async move { api.hold(b, schedule, w).await }
    }))
    .await;
    let wins: Vec<usize> = (0..2).filter(|i| replies[*i].status == 201).collect();
    assert_eq!(wins.len(), 1, "{} / {}", replies[0].body, replies[1].body);
    let loser_only_seat = if wins[0] == 0 { seats[5] } else { seats[3] };
    api.wait_seat(&first, schedule, loser_only_seat, "AVAILABLE")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_hold_expires_on_time_and_cannot_be_paid() {
    let hold_seconds = 2;
    let app = TestApp::spawn_with_hold(hold_seconds).await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 2).await;
    let buyer = api.user("Park").await;
    api.charge(&buyer, 1_000_000).await;
    let held = api.hold(&buyer, schedule, &seats).await;
    assert_eq!(held.status, 201);
    let id = reservation_id(&held);
    let expires_at: chrono::DateTime<chrono::Utc> =
        held.body["expires_at"].as_str().unwrap().parse().unwrap();

    // Released within the hold plus five seconds at most.
    eventually(Duration::from_secs(hold_seconds + 5), || async {
        api.seat_status(&buyer, schedule, seats[0]).await == "AVAILABLE"
    })
    .await;
    let released_after = chrono::Utc::now() - expires_at;
    assert!(
        released_after < chrono::Duration::seconds(5),
        "{released_after}"
    );
    assert!(
        released_after > chrono::Duration::zero(),
        "released before it expired"
    );
    assert_eq!(api.reservation(&buyer, &id).await.body["status"], "EXPIRED");
    api.pay(&buyer, &id)
        .await
        .assert_error(409, "RESERVATION_EXPIRED");
    assert_eq!(api.balance(&buyer).await, 1_000_000, "nothing was charged");
    // The seats are on sale again.
    let next = api.user("Choi").await;
    assert_eq!(api.hold(&next, schedule, &seats).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_releases_the_seats_at_once() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 2).await;
    let buyer = api.user("Jung").await;
    let id = reservation_id(&api.hold(&buyer, schedule, &seats).await);
    let cancelled = api.cancel(&buyer, &id).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "CANCELLED");
    for seat in &seats {
        api.wait_seat(&buyer, schedule, *seat, "AVAILABLE").await;
    }
    assert_eq!(
        api.reservation(&buyer, &id).await.body["status"],
        "CANCELLED"
    );
    api.pay(&buyer, &id)
        .await
        .assert_error(409, "RESERVATION_EXPIRED");
    let events = api
        .get(&format!("/api/v1/reservations/{id}/events"), &buyer.token)
        .await;
    let last = events.body["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "CANCELLED");
    assert_eq!(last["actor"], "USER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_can_neither_see_nor_pay_nor_cancel_a_reservation() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 2).await;
    let (owner, stranger) = (api.user("Owner").await, api.user("Stranger").await);
    api.charge(&stranger, 1_000_000).await;
    let id = reservation_id(&api.hold(&owner, schedule, &seats[..1]).await);

    api.reservation(&stranger, &id)
        .await
        .assert_error(404, "NOT_FOUND");
    api.get(
        &format!("/api/v1/reservations/{id}/events"),
        &stranger.token,
    )
    .await
    .assert_error(404, "NOT_FOUND");
    api.pay(&stranger, &id).await.assert_error(404, "NOT_FOUND");
    api.cancel(&stranger, &id)
        .await
        .assert_error(404, "NOT_FOUND");
    let theirs = api
        .get("/api/v1/users/me/reservations", &stranger.token)
        .await;
    assert_eq!(theirs.body["reservations"], serde_json::json!([]));

    assert_eq!(api.balance(&stranger).await, 1_000_000);
    assert_eq!(api.reservation(&owner, &id).await.body["status"], "HELD");
}

/// Two API processes and two worker processes: buyers spread over both APIs race for a few
/// seats, pay, and every guarantee holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apis_and_two_workers_keep_every_guarantee() {
    let settings = settings(300);
    let _workers = [
        Process::start("seatline-worker", &settings, &[]),
        Process::start("seatline-worker", &settings, &[]),
    ];
    let (_a, api_a) = start_api_process(&settings).await;
    let (_b, api_b) = start_api_process(&settings).await;
    let app = TestApp::spawn_api_only(settings).await;
    let (schedule, seats) = app.schedule(1, 5).await;

    let buyers = api_a.users(40).await;
    for charged in join_all(buyers.iter().map(|b| api_b.charge(b, 1_000_000))).await {
        assert_eq!(charged.status, 200, "{}", charged.body);
    }
    let replies = join_all(buyers.iter().enumerate().map(|(i, b)| {
        let api = if i % 2 == 0 {
            api_a.clone()
        } else {
            api_b.clone()
        };
        let seat = seats[i % seats.len()];
        async move { (b, api.hold(b, schedule, &[seat]).await) }
    }))
    .await;
    let winners: Vec<_> = replies.iter().filter(|(_, r)| r.status == 201).collect();
    assert_eq!(winners.len(), seats.len(), "one winner per seat");
    let won: HashSet<i64> = winners
        .iter()
        .map(|(_, r)| r.body["seats"][0]["seat_id"].as_i64().unwrap())
        .collect();
    assert_eq!(won.len(), seats.len(), "no seat won twice");
    for (_, r) in replies.iter().filter(|(_, r)| r.status != 201) {
        r.assert_error(409, "SEAT_UNAVAILABLE");
    }
    // Each winner pays twice at once, once through each API: one debit each.
    let paid = join_all(winners.iter().map(|(b, r)| {
        let (a, bb) = (api_a.clone(), api_b.clone());
        let id = reservation_id(r);
        async move { futures::join!(a.pay(b, &id), bb.pay(b, &id)) }
    }))
    .await;
    for (x, y) in &paid {
        let ok = [x, y].iter().filter(|r| r.status == 200).count();
        assert_eq!(ok, 1, "{} / {}", x.body, y.body);
    }
    for (b, r) in &winners {
        let amount = r.body["amount"].as_i64().unwrap();
        assert_eq!(api_a.balance(b).await, 1_000_000 - amount);
    }
    let sold: Vec<String> =
        sqlx::query_scalar("SELECT status FROM seat_inventory WHERE schedule_id = $1")
            .bind(schedule.as_uuid())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(sold.iter().all(|s| s == "SOLD"), "{sold:?}");
}

/// Past `HOLDS_IN_FLIGHT` holds waiting on Temporal, a winner is told 503 BUSY within about a
/// second, keeps nothing, and can hold the same seat when it asks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_holds_in_flight_limit_buyers_hear_busy_and_nothing_is_kept() {
    let mut settings = settings(300);
    settings.holds_in_flight = 1;
    let app = TestApp::spawn_with(settings).await;
    let (schedule, seats) = app.schedule(4, 10).await;
    let buyers = app.api.users(40).await;
    join_all(buyers.iter().map(|b| app.api.admit(b, schedule))).await;

    // Forty buyers, forty different seats: every one wins the pre-check.
    let replies = join_all(
        buyers
            .iter()
            .zip(&seats)
            .map(|(b, seat)| app.api.hold(b, schedule, std::slice::from_ref(seat))),
    )
    .await;
    let won: Vec<usize> = (0..40).filter(|i| replies[*i].status == 201).collect();
    let busy: Vec<usize> = (0..40).filter(|i| replies[*i].status == 503).collect();
    assert_eq!(won.len() + busy.len(), 40, "only 201 or 503 BUSY");
    assert!(
        !won.is_empty() && !busy.is_empty(),
        "won {won:?}, busy {busy:?}"
    );
    for i in &busy {
        replies[*i].assert_error(503, "BUSY");
        assert_eq!(
            replies[*i].body["error"]["details"]["retry_after_seconds"],
            1
        );
    }
    let live_claims = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM reservation_seats WHERE schedule_id = $1 AND released_at IS NULL",
        )
        .bind(schedule.as_uuid())
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    assert_eq!(
        live_claims().await,
        won.len() as i64,
        "BUSY holds kept nothing"
    );

    // Their seats were not kept in the pre-check either: asking again, one at a time, wins.
    for i in busy.iter().take(3) {
        let again = app.api.hold(&buyers[*i], schedule, &[seats[*i]]).await;
        assert_eq!(again.status, 201, "{}", again.body);
    }
    assert_eq!(live_claims().await, won.len() as i64 + 3);
}

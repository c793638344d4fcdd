use crate::common::*;
use futures::future::join_all;
use hmac::{Hmac, Mac};
use reqwest::Method;
use seatline_api::queue_token::{QueueClaims, QueueTokenSigner};
use seatline_api::waiting_room::admission_workflow_id;
use seatline_config::ExposeSecret;
use seatline_domain::{ScheduleId, UserId};
use seatline_workflows::AdmissionWorkflow;
use sha2::{Digest, Sha256};
use std::{collections::HashSet, time::Duration};
use temporalio_client::{WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowSignalOptions};

fn queue_settings(cap: u64, rate: f64) -> seatline_config::Settings {
    let mut s = settings(300);
    s.waiting_room.active_cap = cap;
    s.waiting_room.admission_rate = rate;
    s.waiting_room.tick_ms = 100;
    s
}

async fn join_all_users(api: &Api, users: &[User], schedule: ScheduleId) -> Vec<(String, u64)> {
    join_all(users.iter().map(|u| {
        let api = api.clone();
        async move {
            let r = api.join(u, schedule).await;
            assert_eq!(r.status, 201, "{}", r.body);
            (
                r.body["token"].as_str().unwrap().to_owned(),
                r.body["position"].as_u64().unwrap(),
            )
        }
    }))
    .await
}

async fn statuses(api: &Api, users: &[User], tokens: &[(String, u64)]) -> Vec<serde_json::Value> {
    join_all(users.iter().zip(tokens).map(|(u, (t, _))| {
        let api = api.clone();
        async move { api.standing(u, t).await.body }
    }))
    .await
}

async fn signal_admission(app: &TestApp, schedule: ScheduleId, pause: bool) {
    let client = seatline_worker::connect_temporal(&app.settings)
        .await
        .unwrap();
    let handle = client.get_workflow_handle::<AdmissionWorkflow>(admission_workflow_id(
        &app.settings.temporal.task_queue,
        schedule,
    ));
    if pause {
        handle
            .signal(
                AdmissionWorkflow::pause,
                (),
                WorkflowSignalOptions::default(),
            )
            .await
    } else {
        handle
            .signal(
                AdmissionWorkflow::resume,
                (),
                WorkflowSignalOptions::default(),
            )
            .await
    }
    .expect("signal admission controller");
}

/// 50 users join at once; with room for 10 at a time they are admitted in the order of their
/// places, 10 by 10 as the admitted leave, and nobody is admitted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_users_are_admitted_in_order_of_their_places() {
    let app = TestApp::spawn_with(queue_settings(10, 1_000.0)).await;
    let api = &app.api;
    let (schedule, _) = app.bare_schedule(1, 5).await;
    let users = api.users(50).await;
    let tokens = join_all_users(api, &users, schedule).await;
    // A place is the seq inside the signed token; positions shift as others are admitted.
    let signer = QueueTokenSigner::new(app.settings.secrets.queue_token.expose_secret());
    let tokens: Vec<(String, u64)> = tokens
        .into_iter()
        .map(|(t, _)| {
            let seq = signer.verify(&t, 0).unwrap().seq;
            (t, seq)
        })
        .collect();
    let places: HashSet<u64> = tokens.iter().map(|(_, p)| *p).collect();
    // Places after opening count on from above the pre-queue's drawn places.
    let first = seatline_storage::waiting_room::PRE_QUEUE_SPAN + 1;
    assert_eq!(
        places,
        (first..first + 50).collect(),
        "every user has a place of their own"
    );
    // Joining again keeps the place (and the token).
    let again = api.join(&users[7], schedule).await;
    assert_eq!(again.body["token"], tokens[7].0.as_str());

    // Order users by their original place.
    let mut order: Vec<usize> = (0..50).collect();
    order.sort_by_key(|i| tokens[*i].1);
    let users: Vec<User> = order.iter().map(|i| users[*i].clone()).collect();
    let tokens: Vec<(String, u64)> = order.iter().map(|i| tokens[*i].clone()).collect();

    let mut admitted_ever = HashSet::new();
    for round in 0..5 {
        let batch = round * 10..round * 10 + 10;
        eventually(Duration::from_secs(10), || async {
            let now = statuses(api, &users, &tokens).await;
            batch.clone().all(|i| now[i]["status"] == "ACTIVE")
        })
        .await;
        let now = statuses(api, &users, &tokens).await;
        for (i, s) in now.iter().enumerate() {
            let expected = if batch.contains(&i) {
                "ACTIVE"
            } else if i < batch.start {
                "EXPIRED"
            } else {
                "WAITING"
            };
            assert_eq!(s["status"], expected, "user {i} in round {round}: {s}");
            if expected == "WAITING" {
                assert_eq!(s["position"].as_u64().unwrap(), (i - batch.end + 1) as u64);
                assert!(s["eta_seconds"].as_u64().unwrap() >= 1);
            }
        }
        for i in batch.clone() {
            assert!(admitted_ever.insert(i), "user {i} admitted twice");
        }
        // The admitted leave; their places go to the next ten.
        join_all(batch.map(|i| {
            api.send_with(
                Method::DELETE,
                "/api/v1/queue/tokens/current",
                Some(&users[i].token),
                Some(&tokens[i].0),
                None,
            )
        }))
        .await;
    }
    assert_eq!(admitted_ever.len(), 50);
}

/// Two API processes and a small cap: however the joins and polls interleave, never more than
/// the cap are active, and one admission controller runs for the schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_is_never_exceeded_with_several_apis() {
    let cap = 5;
    let settings = queue_settings(cap, 1_000.0);
    let (_a, api_a) = start_api_process(&settings).await;
    let (_b, api_b) = start_api_process(&settings).await;
    let app = TestApp::spawn_with(settings).await;
    let (schedule, _) = app.bare_schedule(1, 5).await;
    let users = api_a.users(30).await;
    let tokens = join_all(users.iter().enumerate().map(|(i, u)| {
        let api = if i % 2 == 0 {
            api_a.clone()
        } else {
            api_b.clone()
        };
        async move {
            api.join(u, schedule).await.body["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    }))
    .await;
    let mut redis = redis::Client::open(app.settings.redis.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut left = HashSet::new();
    let mut admitted = HashSet::new();
    for _ in 0..40 {
        let now = join_all(users.iter().zip(&tokens).enumerate().map(|(i, (u, t))| {
            let api = if i % 2 == 0 {
                api_b.clone()
            } else {
                api_a.clone()
            };
            async move {
                api.standing(u, t).await.body["status"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        }))
        .await;
        let active: Vec<usize> = (0..30).filter(|i| now[*i] == "ACTIVE").collect();
        assert!(
            active.len() as u64 <= cap,
            "{} active: {active:?}",
            active.len()
        );
        let in_redis: u64 = redis::cmd("ZCARD")
            .arg(format!("wr:{{{schedule}}}:active"))
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(in_redis <= cap, "{in_redis} active in Redis");
        // Whoever is active leaves, through either API.
        for i in active {
            admitted.insert(i);
            if left.insert(i) {
                let api = if i % 3 == 0 { &api_a } else { &api_b };
                api.send_with(
                    Method::DELETE,
                    "/api/v1/queue/tokens/current",
                    Some(&users[i].token),
                    Some(&tokens[i]),
                    None,
                )
                .await;
            }
        }
        if admitted.len() == 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(admitted.len(), 30, "everyone got a turn");
    let client = seatline_worker::connect_temporal(&app.settings)
        .await
        .unwrap();
    let running = client
        .count_workflows(
            format!(
                "WorkflowId = '{}' AND ExecutionStatus = 'Running'",
                admission_workflow_id(&app.settings.temporal.task_queue, schedule)
            ),
            Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(running.count(), 1, "one admission controller");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_refuses_each_kind_of_bad_token_with_its_code() {
    let app = TestApp::spawn_with(queue_settings(1, 1_000.0)).await;
    let api = &app.api;
    let (schedule, seats) = app.bare_schedule(1, 3).await;
    let (other_schedule, _) = app.bare_schedule(1, 1).await;
    let (first, second) = (api.user("First").await, api.user("Second").await);
    let first_token = api.admit(&first, schedule).await;
    let seat_map = format!("/api/v1/schedules/{schedule}/seats");
    let hold_body = serde_json::json!({ "schedule_id": schedule, "seat_ids": [seats[0]] });
    let call = |user: &User, token: Option<String>| {
        let (api, path, user) = (api.clone(), seat_map.clone(), user.clone());
        async move {
            api.send_with(
                Method::GET,
                &path,
                Some(&user.token),
                token.as_deref(),
                None,
            )
            .await
        }
    };

    call(&first, Some(first_token.clone())).await;
    assert_eq!(call(&first, Some(first_token.clone())).await.status, 200);
    // Missing, forged, someone else's, another schedule's.
    call(&first, None)
        .await
        .assert_error(401, "TOKEN_NOT_FOUND");
    call(&first, Some("garbage".into()))
        .await
        .assert_error(401, "TOKEN_NOT_FOUND");
    let forged = QueueTokenSigner::new("not the secret").issue(&QueueClaims {
        user: UserId::parse(&first.id).unwrap(),
        schedule,
        seq: 1,
        expires_at_ms: i64::MAX,
    });
    call(&first, Some(forged))
        .await
        .assert_error(401, "TOKEN_NOT_FOUND");
    call(&second, Some(first_token.clone()))
        .await
        .assert_error(401, "TOKEN_NOT_FOUND");
    let elsewhere = api.join(&first, other_schedule).await.body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    call(&first, Some(elsewhere))
        .await
        .assert_error(401, "TOKEN_NOT_FOUND");
    // Still waiting: the cap is 1 and First has the turn.
    let waiting = api.join(&second, schedule).await;
    assert_eq!(waiting.body["status"], "WAITING");
    let second_token = waiting.body["token"].as_str().unwrap().to_owned();
    let refused = call(&second, Some(second_token.clone())).await;
    refused.assert_error(403, "WRONG_TOKEN_TURN");
    assert_eq!(refused.body["error"]["details"]["position"], 1);
    let hold = api
        .send_with(
            Method::POST,
            "/api/v1/reservations",
            Some(&second.token),
            Some(&second_token),
            Some(hold_body.clone()),
        )
        .await;
    hold.assert_error(403, "WRONG_TOKEN_TURN");
    // A token past its expiry, signed with the real secret.
    let stale = QueueTokenSigner::new(app.settings.secrets.queue_token.expose_secret()).issue(
        &QueueClaims {
            user: UserId::parse(&first.id).unwrap(),
            schedule,
            seq: 1,
            expires_at_ms: 1,
        },
    );
    call(&first, Some(stale.clone()))
        .await
        .assert_error(401, "TOKEN_EXPIRED");
    assert_eq!(api.standing(&first, &stale).await.body["status"], "EXPIRED");
    // First leaves: their turn is over (expired) and Second is let in.
    api.send_with(
        Method::DELETE,
        "/api/v1/queue/tokens/current",
        Some(&first.token),
        Some(&first_token),
        None,
    )
    .await;
    call(&first, Some(first_token.clone()))
        .await
        .assert_error(401, "TOKEN_EXPIRED");
    api.send_with(
        Method::POST,
        "/api/v1/reservations",
        Some(&first.token),
        Some(&first_token),
        Some(hold_body),
    )
    .await
    .assert_error(401, "TOKEN_EXPIRED");
    eventually(Duration::from_secs(5), || async {
        api.standing(&second, &second_token).await.body["status"] == "ACTIVE"
    })
    .await;
    assert_eq!(call(&second, Some(second_token)).await.status, 200);
}

/// When every seat is sold the controller stops: waiting users see SOLD_OUT, newcomers too,
/// and nobody else is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_sold_out_waiting_users_see_it_and_nobody_is_admitted() {
    let app = TestApp::spawn_with(queue_settings(1, 1_000.0)).await;
    let api = &app.api;
    let (schedule, seats) = app.bare_schedule(1, 2).await;
    let buyer = api.user("Buyer").await;
    api.charge(&buyer, 1_000_000).await;
    api.admit(&buyer, schedule).await;
    let waiter = api.user("Waiter").await;
    let waiting = api.join(&waiter, schedule).await;
    let waiter_token = waiting.body["token"].as_str().unwrap().to_owned();
    assert_eq!(waiting.body["status"], "WAITING");

    let held = api.hold(&buyer, schedule, &seats).await;
    assert_eq!(held.status, 201);
    assert_eq!(api.pay(&buyer, &reservation_id(&held)).await.status, 200);

    eventually(Duration::from_secs(10), || async {
        api.standing(&waiter, &waiter_token).await.body["status"] == "SOLD_OUT"
    })
    .await;
    let late = api.user("Late").await;
    let joined = api.join(&late, schedule).await;
    let late_token = joined.body["token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        api.standing(&late, &late_token).await.body["status"],
        "SOLD_OUT"
    );
    assert_eq!(
        api.standing(&waiter, &waiter_token).await.body["status"],
        "SOLD_OUT"
    );
    let client = seatline_worker::connect_temporal(&app.settings)
        .await
        .unwrap();
    let handle = client.get_workflow_handle::<AdmissionWorkflow>(admission_workflow_id(
        &app.settings.temporal.task_queue,
        schedule,
    ));
    let described = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .unwrap();
    assert_eq!(described.status(), WorkflowExecutionStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_admission_and_resume_continues_it() {
    let app = TestApp::spawn_with(queue_settings(100, 1_000.0)).await;
    let api = &app.api;
    let (schedule, _) = app.bare_schedule(1, 5).await;
    let early = api.user("Early").await;
    api.admit(&early, schedule).await;
    signal_admission(&app, schedule, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let users = api.users(3).await;
    let tokens = join_all_users(api, &users, schedule).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for s in statuses(api, &users, &tokens).await {
        assert_eq!(s["status"], "WAITING", "paused: {s}");
    }
    signal_admission(&app, schedule, false).await;
    eventually(Duration::from_secs(5), || async {
        statuses(api, &users, &tokens)
            .await
            .iter()
            .all(|s| s["status"] == "ACTIVE")
    })
    .await;
}

/// The API keeps nothing of the queue: a new API process finds every place where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_api_loses_nobodys_place() {
    let settings = queue_settings(2, 1_000.0);
    let app = TestApp::spawn_with(settings.clone()).await;
    let (schedule, _) = app.bare_schedule(1, 5).await;
    let (first_api, api) = start_api_process(&settings).await;
    let users = api.users(12).await;
    let tokens = join_all_users(&api, &users, schedule).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = statuses(&api, &users, &tokens).await;
    first_api.kill();

    let (_second_api, api) = start_api_process(&settings).await;
    let after = statuses(&api, &users, &tokens).await;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["status"], a["status"]);
        assert_eq!(b["position"], a["position"]);
    }
    assert_eq!(after.iter().filter(|s| s["status"] == "ACTIVE").count(), 2);
    assert_eq!(
        after.iter().filter(|s| s["status"] == "WAITING").count(),
        10
    );
    // Joining again through the new process returns the same place.
    for (u, (t, _)) in users.iter().zip(&tokens).take(3) {
        assert_eq!(api.join(u, schedule).await.body["token"], t.as_str());
    }
}

/// Those who join before booking opens get places drawn at random, all ahead of those who
/// join after; nobody is let in before opening; joining again keeps the drawn place; a join
/// earlier than the pre-queue window is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pre_queue_draws_places_and_lets_nobody_in_before_opening() {
    let app = TestApp::spawn_with(queue_settings(5, 1_000.0)).await;
    let api = &app.api;
    let (schedule, _) = app.bare_schedule(1, 5).await;
    let (too_early, _) = app.bare_schedule(1, 5).await;
    for (id, seconds) in [(schedule, 6), (too_early, 7_200)] {
        sqlx::query("UPDATE schedules SET booking_opens_at = now() + make_interval(secs => $2) WHERE id = $1")
            .bind(id.as_uuid())
            .bind(seconds as f64)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let users = api.users(30).await;
    api.join(&users[0], too_early)
        .await
        .assert_error(409, "BOOKING_CLOSED");

    // One after the other, in a known order.
    let signer = QueueTokenSigner::new(app.settings.secrets.queue_token.expose_secret());
    let mut places = Vec::new();
    for user in &users {
        let joined = api.join(user, schedule).await;
        assert_eq!(joined.status, 201, "{}", joined.body);
        assert_eq!(joined.body["status"], "WAITING");
        let token = joined.body["token"].as_str().unwrap().to_owned();
        places.push((token.clone(), signer.verify(&token, 0).unwrap().seq));
    }
    let again = api.join(&users[3], schedule).await;
    assert_eq!(
        again.body["token"], places[3].0,
        "joining again keeps the drawn place"
    );
    let seqs: Vec<u64> = places.iter().map(|(_, s)| *s).collect();
    assert!(seqs
        .iter()
        .all(|s| *s < seatline_storage::waiting_room::PRE_QUEUE_SPAN));
    assert_eq!(
        seqs.iter().collect::<HashSet<_>>().len(),
        30,
        "places are distinct"
    );
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_ne!(
        seqs, sorted,
        "places follow the draw, not the order of joining"
    );

    // Before opening: nobody in; the draw is committed to, its seed still secret.
    let draw_path = format!("/api/v1/schedules/{schedule}/pre-queue");
    let committed = api.send(Method::GET, &draw_path, None, None).await.body;
    let commitment = committed["commitment"].as_str().unwrap().to_owned();
    assert_eq!(commitment.len(), 64);
    assert!(committed["seed"].is_null() && committed["entries"] == serde_json::json!([]));
    assert_eq!(committed["entry_count"], 30);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let before = statuses(api, &users, &places).await;
    assert!(
        before.iter().all(|s| s["status"] == "WAITING"),
        "{before:?}"
    );

    // After opening: the five smallest drawn places, whoever joined first; a late joiner
    // stands behind the whole pre-queue.
    eventually(Duration::from_secs(20), || {
        let (api, users, places) = (api.clone(), users.clone(), places.clone());
        async move {
            statuses(&api, &users, &places)
                .await
                .iter()
                .filter(|s| s["status"] == "ACTIVE")
                .count()
                == 5
        }
    })
    .await;
    let after = statuses(api, &users, &places).await;
    let active: HashSet<u64> = after
        .iter()
        .zip(&seqs)
        .filter(|(s, _)| s["status"] == "ACTIVE")
        .map(|(_, seq)| *seq)
        .collect();
    assert_eq!(active, sorted[..5].iter().copied().collect::<HashSet<_>>());

    // The seed is revealed; it is the committed one; from it and the public entries anyone
    // recomputes every place, and so the order in which the five were admitted.
    let revealed = api.send(Method::GET, &draw_path, None, None).await.body;
    let seed = hex::decode(revealed["seed"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&seed)), commitment);
    let recomputed: HashSet<u64> = revealed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&seed).unwrap();
            mac.update(entry.as_str().unwrap().as_bytes());
            let tag = mac.finalize().into_bytes();
            1 + u64::from_be_bytes(tag[..8].try_into().unwrap()) % ((1 << 46) - (1 << 20))
        })
        .collect();
    assert_eq!(recomputed, seqs.iter().copied().collect::<HashSet<_>>());
    // Each buyer's receipt: joined when, drawn rank, admitted when.
    let receipt_of = |i: usize| {
        let (api, user, token) = (api.clone(), users[i].clone(), places[i].0.clone());
        async move {
            api.send_with(
                Method::GET,
                "/api/v1/queue/tokens/current/receipt",
                Some(&user.token),
                Some(&token),
                None,
            )
            .await
            .body
        }
    };
    let first = seqs.iter().position(|s| *s == sorted[0]).unwrap();
    let receipt = receipt_of(first).await;
    assert_eq!(receipt["pre_queue"], true);
    assert_eq!(receipt["rank"], 1, "{receipt}");
    assert!(receipt["joined_at"].is_string() && receipt["admitted_at"].is_string());
    let last = seqs
        .iter()
        .position(|s| s == sorted.last().unwrap())
        .unwrap();
    let receipt = receipt_of(last).await;
    assert_eq!(receipt["rank"], 30, "{receipt}");
    assert!(receipt["admitted_at"].is_null());

    let late = api.users(1).await.remove(0);
    let late_join = api.join(&late, schedule).await;
    assert_eq!(late_join.body["status"], "WAITING");
    assert_eq!(late_join.body["position"], 26, "{}", late_join.body);
    let late_seq = signer
        .verify(late_join.body["token"].as_str().unwrap(), 0)
        .unwrap()
        .seq;
    assert!(late_seq > *sorted.last().unwrap());
}

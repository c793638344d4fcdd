use crate::common::*;
use futures::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_without_enough_balance_is_402_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 2).await;
    let buyer = api.user("Han").await;
    api.charge(&buyer, 1_000).await;
    let held = api.hold(&buyer, schedule, &seats[..1]).await;
    let id = reservation_id(&held);
    let amount = held.body["amount"].as_i64().unwrap();

    let refused = api.pay(&buyer, &id).await;
    refused.assert_error(402, "INSUFFICIENT_BALANCE");
    assert_eq!(refused.body["error"]["details"]["balance"], 1_000);
    assert_eq!(refused.body["error"]["details"]["amount"], amount);

    assert_eq!(api.balance(&buyer).await, 1_000);
    assert_eq!(api.reservation(&buyer, &id).await.body["status"], "HELD");
    api.wait_seat(&buyer, schedule, seats[0], "HELD").await;
    let history = api
        .get("/api/v1/users/me/balance/history", &buyer.token)
        .await;
    assert_eq!(
        history.body["entries"].as_array().unwrap().len(),
        1,
        "only the charge"
    );

    // Topping up within the hold and paying again works.
    api.charge(&buyer, amount).await;
    let paid = api.pay(&buyer, &id).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(api.balance(&buyer).await, 1_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_charges_add_up_exactly() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let buyer = api.user("Yoon").await;
    let replies = join_all((1..=40).map(|i| {
        let api = api.clone();
        let buyer = buyer.clone();
        async move { api.charge(&buyer, i * 1_000).await }
    }))
    .await;
    assert!(replies.iter().all(|r| r.status == 200));
    let expected: i64 = (1..=40).map(|i| i * 1_000).sum();
    assert_eq!(api.balance(&buyer).await, expected);
    let history = api
        .get("/api/v1/users/me/balance/history", &buyer.token)
        .await;
    let entries = history.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 40);
    // Every entry's balance_after is distinct: no two charges saw the same balance.
    let mut after: Vec<i64> = entries
        .iter()
        .map(|e| e["balance_after"].as_i64().unwrap())
        .collect();
    after.sort();
    after.dedup();
    assert_eq!(after.len(), 40);
    assert_eq!(*after.last().unwrap(), expected);
}

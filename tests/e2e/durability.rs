use crate::common::*;
use futures::future::join_all;
use std::time::Duration;
use temporalio_client::{UntypedWorkflow, WorkflowDescribeOptions, WorkflowExecutionStatus};

/// SIGKILL the only worker while holds are open, then start a new one: payments sent while no
/// worker ran are applied, the unpaid holds expire, nothing is lost or left open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_worker_loses_no_reservation() {
    let settings = settings(15);
    let first = Process::start("seatline-worker", &settings, &[]);
    let app = TestApp::spawn_api_only(settings.clone()).await;
    let api = &app.api;
    let (schedule, seats) = app.schedule(1, 6).await;
    let buyers = api.users(6).await;
    join_all(buyers.iter().map(|b| api.charge(b, 1_000_000))).await;
    let mut holds = Vec::new();
    for (b, seat) in buyers.iter().zip(&seats) {
        let held = api.hold(b, schedule, &[*seat]).await;
        assert_eq!(held.status, 201, "{}", held.body);
        holds.push((b.clone(), reservation_id(&held)));
    }

    first.kill();
    // Half the buyers pay while no worker runs; their requests wait for the next one.
    let payers = holds[..3].to_vec();
    // A 503 says "retry": a worker slow to start on a loaded machine may take longer than
    // the API waits for Temporal, and a buyer's page asks again.
    let payments = tokio::spawn({
        let api = api.clone();
        async move {
            join_all(payers.iter().map(|(b, id)| {
                let api = api.clone();
                async move {
                    let mut reply = api.pay(b, id).await;
                    for _ in 0..5 {
                        if reply.status != 503 {
                            break;
                        }
                        reply = api.pay(b, id).await;
                    }
                    reply
                }
            }))
            .await
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _second = Process::start("seatline-worker", &settings, &[]);

    for reply in payments.await.unwrap() {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["status"], "CONFIRMED");
    }
    for (b, id) in &holds[3..] {
        eventually(Duration::from_secs(30), || async {
            api.reservation(b, id).await.body["status"] == "EXPIRED"
        })
        .await;
    }
    for (i, (b, id)) in holds.iter().enumerate() {
        let (status, seat) = if i < 3 {
            ("CONFIRMED", "SOLD")
        } else {
            ("EXPIRED", "AVAILABLE")
        };
        assert_eq!(api.reservation(b, id).await.body["status"], status);
        api.wait_seat(b, schedule, seats[i], seat).await;
    }
    // Every workflow finished.
    let client = seatline_worker::connect_temporal(&settings).await.unwrap();
    for (_, id) in &holds {
        let handle = client.get_workflow_handle::<UntypedWorkflow>(format!("reservation-{id}"));
        eventually(Duration::from_secs(10), || async {
            let described = handle
                .describe(WorkflowDescribeOptions::default())
                .await
                .unwrap();
            described.status() == WorkflowExecutionStatus::Completed
        })
        .await;
    }
}

//! Replay tests: each workflow history recorded in `replay/histories/` is replayed against the
//! current workflow code, with the five workflow types registered as `worker/src/lib.rs`
//! registers them. Reservations run for minutes, so a deploy always meets workflows already
//! running; these histories stand for them. Replay is local (the SDK's `WorkflowReplayer`):
//! no Temporal server, database or Redis is needed.
//!
//! **When a workflow change breaks a history here**, it would break the runs of that workflow
//! that are going when it deploys. Put the change behind `ctx.patched("...")` (a run that
//! started before the change replays the old path, a new run takes the new one), and add a new
//! history recorded with the new code beside the old ones. Never re-record an old history to
//! make the test pass: that only hides the break from CI, not from the running workflows.
//!
//! Adding a history: run the workflow (the e2e tests do, on task queues `test-<run>-<uuid>`),
//! then `temporal workflow show --workflow-id <id> --output json >
//! tests/replay/histories/<case>.json` and add `<case>` to `replays!` below. Prefer short runs.
//!
//! The files are Temporal's proto JSON, the form the CLI and the web UI export. The SDK's own
//! `WorkflowHistory::from_json` reads only the SDK's serde form, so the files are read through
//! `history_descriptors.binpb`, the protobuf descriptors of `temporal.api.history.v1.History`,
//! made from the SDK's protos with `protoc -I
//! ~/.cargo/registry/src/*/temporalio-protos-0.10.2/protos/api_upstream --include_imports
//! --descriptor_set_out=tests/replay/history_descriptors.binpb
//! temporal/api/history/v1/message.proto`. Remake it that way if a newly recorded history has
//! a field it does not know.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use seatline_proto::{SweepOutcome, SweeperInput};
use seatline_workflows::{
    AdmissionWorkflow, CheckoutWorkflow, RefundWorkflow, ReservationActivities,
    ReservationWorkflow, SweeperWorkflow,
};
use std::{collections::BTreeSet, path::PathBuf, time::Duration};
use temporalio_common::protos::temporal::api::history::v1::{history_event::Attributes, History};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    workflow_replayer::{
        WorkflowReplayError, WorkflowReplayFailure, WorkflowReplayer, WorkflowReplayerOptions,
    },
    ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
};

/// One test per recorded history, named after its file.
macro_rules! replays {
    ($($case:ident),+ $(,)?) => {
        const CASES: &[&str] = &[$(stringify!($case)),+];
        $(
            #[tokio::test]
            async fn $case() {
                assert_replays(stringify!($case)).await;
            }
        )+
    };
}

replays!(
    reservation_paid_with_balance,
    reservation_paid_by_card,
    reservation_cancelled,
    reservation_expired,
    reservation_refused,
    reservation_purchase_limit,
    checkout_succeeded,
    checkout_abandoned,
    checkout_refunded_after_expiry,
    admission_sold_out,
    sweeper,
    refund_not_refundable,
);

/// A history file without a test would never be replayed, a test without its file never run.
#[test]
fn every_history_file_is_replayed() {
    let files: BTreeSet<String> = std::fs::read_dir(histories_dir())
        .expect("tests/replay/histories")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let cases: BTreeSet<String> = CASES.iter().map(|case| case.to_string()).collect();
    let untested: Vec<_> = files.difference(&cases).collect();
    let missing: Vec<_> = cases.difference(&files).collect();
    assert!(
        untested.is_empty() && missing.is_empty(),
        "histories without a test (add them to replays!): {untested:?}; \
         tests without a history: {missing:?}"
    );
}

/// The proof that the tests above can fail: the recorded paid reservation, as if the code
/// now scheduled another activity where it confirmed the payment.
#[tokio::test]
async fn a_history_the_code_no_longer_matches_fails_as_nondeterminism() {
    let mut history = load("reservation_paid_with_balance");
    let mut renamed = 0;
    for event in &mut history.events {
        if let Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled)) =
            &mut event.attributes
        {
            if let Some(activity) = scheduled.activity_type.as_mut() {
                if activity.name == "confirm_with_balance" {
                    activity.name = "debit_balance".to_owned();
                    renamed += 1;
                }
            }
        }
    }
    assert_eq!(
        renamed, 1,
        "the recorded payment schedules confirm_with_balance once"
    );

    let failure = replay(&replayer(), history)
        .await
        .expect_err("a history the code doesn't match must not replay");
    assert_nondeterminism(&failure);
}

/// The same from the other side: the recorded sweeper against a sweeper that was changed to
/// wait before its first sweep instead of after it.
#[tokio::test]
async fn a_workflow_whose_steps_changed_fails_as_nondeterminism() {
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<SweeperThatWaitsFirst>()
        .expect("registering the changed sweeper")
        .build();
    let replayer = WorkflowReplayer::new(options).expect("a replayer");

    let failure = replay(&replayer, load("sweeper"))
        .await
        .expect_err("the changed sweeper must not replay the recorded one");
    assert_nondeterminism(&failure);
}

async fn assert_replays(case: &str) {
    if let Err(err) = replay(&replayer(), load(case)).await {
        panic!(
            "histories/{case}.json does not replay against the current workflow code: {err}\n\
             Running workflows like it would fail the same way. Put the change behind \
             ctx.patched(\"...\") and record a new history; don't re-record this one \
             (see tests/replay/main.rs)."
        );
    }
}

fn assert_nondeterminism(failure: &WorkflowReplayError) {
    println!("replay failed as expected: {failure}");
    assert!(
        matches!(
            failure,
            WorkflowReplayError::Replay(WorkflowReplayFailure::Nondeterminism { .. })
        ),
        "expected a nondeterminism failure, got: {failure:?}"
    );
}

/// The workflow types the worker registers (`worker/src/lib.rs`), under their own names.
fn replayer() -> WorkflowReplayer {
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<ReservationWorkflow>()
        .expect("registering ReservationWorkflow")
        .register_workflow::<AdmissionWorkflow>()
        .expect("registering AdmissionWorkflow")
        .register_workflow::<RefundWorkflow>()
        .expect("registering RefundWorkflow")
        .register_workflow::<CheckoutWorkflow>()
        .expect("registering CheckoutWorkflow")
        .register_workflow::<SweeperWorkflow>()
        .expect("registering SweeperWorkflow")
        .build();
    WorkflowReplayer::new(options).expect("a replayer")
}

async fn replay(replayer: &WorkflowReplayer, history: History) -> Result<(), WorkflowReplayError> {
    replayer.replay_workflow(history.into()).await
}

fn histories_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("replay/histories")
}

/// Reads `histories/<case>.json`, as `temporal workflow show --output json` wrote it.
fn load(case: &str) -> History {
    let path = histories_dir().join(format!("{case}.json"));
    let json = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    history_from_proto_json(&json).unwrap_or_else(|err| panic!("parsing {}: {err}", path.display()))
}

fn history_from_proto_json(json: &str) -> Result<History, String> {
    let pool = DescriptorPool::decode(&include_bytes!("history_descriptors.binpb")[..])
        .map_err(|err| format!("history_descriptors.binpb: {err}"))?;
    let descriptor = pool
        .get_message_by_name("temporal.api.history.v1.History")
        .ok_or("history_descriptors.binpb has no temporal.api.history.v1.History")?;
    let mut json = serde_json::Deserializer::from_str(json);
    // Unknown fields are refused, not dropped: a field the descriptors lack might matter to replay.
    let message = DynamicMessage::deserialize(descriptor, &mut json)
        .map_err(|err| format!("{err} (remake history_descriptors.binpb if the field is new)"))?;
    json.end().map_err(|err| err.to_string())?;
    History::decode(message.encode_to_vec().as_slice()).map_err(|err| err.to_string())
}

/// `SweeperWorkflow` as it would be after a careless edit: it waits before its first sweep.
#[workflow]
pub struct SweeperThatWaitsFirst {
    input: SweeperInput,
}

#[workflow_methods]
impl SweeperThatWaitsFirst {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: SweeperInput) -> Self {
        Self { input }
    }

    #[run(name = "SweeperWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<SweepOutcome> {
        let input = ctx.state(|s| s.input.clone());
        ctx.timer(Duration::from_secs(input.interval_seconds.max(1)))
            .await;
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60)).build();
        let _ = ctx
            .execute_activity(ReservationActivities::sweep, input, options)
            .await;
        Ok(SweepOutcome::default())
    }
}

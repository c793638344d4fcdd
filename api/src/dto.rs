//! The shapes of what the API reads and answers. Handlers build these, never loose JSON, and
//! the OpenAPI document is derived from them, so the two cannot drift.

use chrono::{DateTime, Utc};
use seatline_domain::{
    BalanceEntryKind, PaymentStatus, QueueStatus, ReservationStatus, Role, SeatStatus,
};
use seatline_storage::{balance, catalog, reservations, seat_cache, topups};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

// --- Requests -----------------------------------------------------------------------------

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Signup {
    #[schema(format = Email, max_length = 254, example = "kim@example.com")]
    pub email: String,
    /// 10 to 128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
    /// How the account is shown: not only spaces, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Kim"
    )]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshSession {
    pub refresh_token: String,
}

/// A session's tokens: send `access_token` as `Authorization: Bearer`; before it expires
/// (`expires_in` seconds), trade `refresh_token` for new ones at `/auth/refresh`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub user_id: Uuid,
    pub role: Role,
    pub access_token: String,
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// How one may sign in here.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInMethods {
    /// Email and password: always.
    pub password: bool,
    /// The name-only demo login: development mode only.
    pub demo: bool,
    /// Free balance top-ups (`POST /users/me/balance/charges`): development mode only;
    /// otherwise a top-up is a card payment (`POST /users/me/balance/topups`).
    pub free_topups: bool,
}

/// The caller's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user_id: Uuid,
    pub name: String,
    /// Absent for a demo account.
    pub email: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// A demo account: a name, nothing else (development mode).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Kim"
    )]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinQueue {
    #[schema(format = Uuid)]
    pub schedule_id: String,
}

/// Seats to hold, all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
pub struct HoldSeats {
    #[schema(format = Uuid)]
    pub schedule_id: String,
    /// 1 to 4 distinct seat ids of the schedule.
    #[schema(schema_with = seat_ids_schema)]
    #[serde(deserialize_with = "integers")]
    pub seat_ids: Vec<i64>,
}

/// 1 to 4 distinct positive integers, at most 2^31 - 1 (larger ones written as floats, such
/// as `4052442030962351.0`, lose their last digit on the way).
fn seat_ids_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let seat = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(i64::from(i32::MAX)));
    ArrayBuilder::new()
        .items(seat)
        .min_items(Some(1))
        .max_items(Some(4))
        .unique_items(true)
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChargeBalance {
    /// KRW, 1 to 10,000,000.
    #[schema(minimum = 1, maximum = 10_000_000)]
    #[serde(deserialize_with = "integer")]
    pub amount: i64,
}

/// The provider's signed callback (header `Seatline-Signature`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentWebhook {
    #[serde(default)]
    pub event_id: String,
    /// The reservation's id, or `topup-<top-up id>` for a balance top-up.
    pub reservation_id: String,
    pub payment_id: String,
    pub amount: i64,
    /// `SUCCEEDED` or `FAILED`.
    #[schema(example = "SUCCEEDED")]
    pub status: String,
}

/// JSON Schema's integers include `7.0`; serde's do not. Accepts both, nothing fractional.
fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    integral(&n).ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer")))
}

fn integers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    Vec::<serde_json::Number>::deserialize(d)?
        .iter()
        .map(|n| {
            integral(n).ok_or_else(|| serde::de::Error::custom(format!("{n} is not an integer")))
        })
        .collect()
}

fn integral(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0)
            .map(|f| f as i64)
    })
}

// --- Answers ------------------------------------------------------------------------------

/// The one error shape: `{"error": {code, message, details}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `SEAT_UNAVAILABLE`; each endpoint lists the ones it answers.
    pub code: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub user_id: Uuid,
    pub name: String,
    /// Bearer (access) token for `Authorization`.
    pub token: String,
    /// Trade it for new tokens at `/auth/refresh`.
    pub refresh_token: String,
    /// Seconds until `token` expires.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Concert {
    pub id: Uuid,
    pub title: String,
    pub artist: String,
    pub venue: String,
}

impl From<catalog::Concert> for Concert {
    fn from(c: catalog::Concert) -> Self {
        Self {
            id: c.id,
            title: c.title,
            artist: c.artist,
            venue: c.venue,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConcertList {
    pub concerts: Vec<Concert>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Schedule {
    pub id: Uuid,
    pub concert_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub booking_opens_at: DateTime<Utc>,
    pub booking_closes_at: DateTime<Utc>,
    pub total_seats: i64,
    pub available_seats: i64,
}

impl From<catalog::Schedule> for Schedule {
    fn from(s: catalog::Schedule) -> Self {
        Self {
            id: s.id,
            concert_id: s.concert_id,
            starts_at: s.starts_at,
            booking_opens_at: s.booking_opens_at,
            booking_closes_at: s.booking_closes_at,
            total_seats: s.total_seats,
            available_seats: s.available_seats,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<Schedule>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GradePrice {
    pub grade: String,
    pub price: i64,
}

impl From<catalog::GradePrice> for GradePrice {
    fn from(g: catalog::GradePrice) -> Self {
        Self {
            grade: g.grade,
            price: g.price,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MapSeat<'a> {
    pub seat_id: i64,
    pub row: i32,
    pub number: i32,
    pub grade: &'a str,
    pub price: i64,
    pub status: SeatStatus,
}

/// Every seat of a schedule with its status.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatMap<'a> {
    pub schedule_id: Uuid,
    /// Grows with every change; the `ETag` carries it.
    pub version: i64,
    pub total_seats: usize,
    pub available_seats: usize,
    pub grades: &'a [GradePrice],
    pub seats: Vec<MapSeat<'a>>,
}

/// `?format=compact`: one status letter per seat (`A`, `H`, `S`) in the order of `/layout`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompactSeatMap<'a> {
    pub schedule_id: Uuid,
    pub version: i64,
    pub available_seats: usize,
    #[schema(example = "AAHSA")]
    pub statuses: &'a str,
}

/// The seat map in the form asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SeatMapBody<'a> {
    Full(SeatMap<'a>),
    Compact(CompactSeatMap<'a>),
}

/// The hall of a schedule; never changes. Each seat is `[seat_id, row, number, grade, price]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatLayout<'a> {
    pub schedule_id: Uuid,
    #[schema(example = json!(["seat_id", "row", "number", "grade", "price"]))]
    pub columns: [&'static str; 5],
    pub grades: &'a [GradePrice],
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub seats: Vec<(i64, i32, i32, &'a str, i64)>,
}

/// What `GET .../seats/stream` sends as `event: seats`.
#[derive(Debug, Serialize)]
pub struct SeatStreamEvent<'a> {
    pub version: i64,
    pub changes: &'a [seat_cache::SeatChange],
}

/// A ticket to open the seat-change stream: `GET .../seats/stream?ticket=…` within
/// `expires_in` seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTicket {
    pub ticket: String,
    pub expires_in: u64,
}

/// A buyer's receipt for their place in line.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueReceipt {
    pub schedule_id: Uuid,
    /// The place the token carries (drawn for the pre-queue, counted after opening).
    pub place: u64,
    /// Joined before booking opened: the place was drawn.
    pub pre_queue: bool,
    /// The anonymized id under which the draw lists this entry.
    pub entry_id: Option<String>,
    pub joined_at: Option<DateTime<Utc>>,
    /// Rank in the draw (1 = first), once booking has opened.
    pub rank: Option<i64>,
    /// When the buyer was first admitted, if they have been.
    pub admitted_at: Option<DateTime<Utc>>,
}

/// A schedule's pre-queue draw, checkable by anyone once booking has opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreQueueDraw {
    pub schedule_id: Uuid,
    pub opens_at: DateTime<Utc>,
    pub opened: bool,
    /// SHA-256 (hex) of the seed, published before opening.
    pub commitment: Option<String>,
    /// The seed (hex), revealed once booking has opened.
    pub seed: Option<String>,
    pub entry_count: i64,
    /// Every entry id, once booking has opened.
    pub entries: Vec<String>,
    /// How each place follows from the seed.
    pub places: &'static str,
}

/// Where a buyer stands in line.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueStanding {
    pub status: QueueStatus,
    /// Absent when the token itself has expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<Uuid>,
    /// Buyers ahead; 0 once ACTIVE.
    pub position: u64,
    pub eta_seconds: u64,
    /// When the turn (ACTIVE) or the token (WAITING) ends.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A place in line and the token that proves it (`X-Queue-Token`).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueTicket {
    pub token: String,
    #[serde(flatten)]
    pub standing: QueueStanding,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReservedSeat {
    pub seat_id: i64,
    pub row: i32,
    pub number: i32,
    pub grade: String,
    pub price: i64,
}

impl From<reservations::ReservedSeat> for ReservedSeat {
    fn from(s: reservations::ReservedSeat) -> Self {
        Self {
            seat_id: s.seat_id,
            row: s.row,
            number: s.number,
            grade: s.grade,
            price: s.price,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reservation {
    pub reservation_id: Uuid,
    pub schedule_id: Uuid,
    pub status: ReservationStatus,
    pub seats: Vec<ReservedSeat>,
    /// KRW.
    pub amount: i64,
    /// When the hold ends unless paid.
    pub expires_at: Option<DateTime<Utc>>,
    /// Absent on the answer of a new hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<reservations::Reservation> for Reservation {
    fn from(r: reservations::Reservation) -> Self {
        Self {
            reservation_id: r.id,
            schedule_id: r.schedule_id,
            status: r.status,
            seats: r.seats.into_iter().map(Into::into).collect(),
            amount: r.amount,
            expires_at: Some(r.expires_at),
            created_at: Some(r.created_at),
            updated_at: Some(r.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationList {
    pub reservations: Vec<Reservation>,
}

/// A step of a reservation, as the audit log keeps it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    #[schema(example = "HELD")]
    pub kind: String,
    #[schema(example = "USER")]
    pub actor: String,
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

impl From<reservations::AuditEvent> for AuditEvent {
    fn from(e: reservations::AuditEvent) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            actor: e.actor,
            details: e.details,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationEvents {
    pub reservation_id: Uuid,
    pub events: Vec<AuditEvent>,
}

/// A reservation paid from the balance.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paid {
    pub reservation_id: Uuid,
    pub status: ReservationStatus,
    pub amount: i64,
    /// The balance after the payment.
    pub balance: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cancelled {
    pub reservation_id: Uuid,
    pub status: ReservationStatus,
}

/// A card payment started with the provider: send the buyer to `checkout_url`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checkout {
    pub reservation_id: Uuid,
    pub payment_id: String,
    pub amount: i64,
    pub status: PaymentStatus,
    #[schema(value_type = Option<String>)]
    pub checkout_url: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceived {
    pub received: bool,
    /// This event was recorded before.
    pub duplicate: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Balance {
    /// KRW.
    pub balance: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceEntry {
    pub id: i64,
    pub kind: BalanceEntryKind,
    pub amount: i64,
    pub balance_after: i64,
    pub reservation_id: Option<Uuid>,
    /// The card top-up a CHARGE came from.
    pub topup_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A balance top-up paid by card. The balance grows when the provider confirms the payment
/// (its signed webhook, or Seatline asking it), never before.
#[derive(Debug, Serialize, ToSchema)]
pub struct Topup {
    pub topup_id: Uuid,
    /// The provider's payment id.
    pub payment_id: Option<String>,
    /// KRW.
    pub amount: i64,
    /// PENDING until the provider confirms it (APPLIED: credited) or it is abandoned (FAILED).
    pub status: PaymentStatus,
    /// Where the buyer pays, while PENDING.
    pub checkout_url: Option<String>,
    /// Cards declined so far; the buyer may try another one.
    pub declines: i32,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

impl From<topups::Topup> for Topup {
    fn from(t: topups::Topup) -> Self {
        let pending = t.status == PaymentStatus::Pending;
        Self {
            topup_id: t.id,
            payment_id: t.provider_payment_id,
            amount: t.amount,
            status: t.status,
            checkout_url: t.checkout_url.filter(|_| pending),
            declines: t.declines,
            created_at: t.created_at,
            settled_at: t.settled_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Topups {
    /// Newest first, at most 100.
    pub topups: Vec<Topup>,
}

impl From<balance::BalanceEntry> for BalanceEntry {
    fn from(e: balance::BalanceEntry) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            amount: e.amount,
            balance_after: e.balance_after,
            reservation_id: e.reservation_id,
            topup_id: e.topup_id,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceHistory {
    /// Newest first, at most 500.
    pub entries: Vec<BalanceEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` or `down`.
    pub status: &'static str,
    pub checks: ReadinessChecks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    pub postgres: &'static str,
    pub redis: &'static str,
    pub temporal: &'static str,
}

// --- the organizer's and the operator's side ---------------------------------------------------

/// A grade of a hall with its price (KRW).
#[derive(Debug, Deserialize, ToSchema)]
pub struct GradePriceBody {
    pub grade: String,
    #[serde(deserialize_with = "integer")]
    pub price: i64,
}

/// One seat of an uploaded layout.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LayoutSeatBody {
    #[serde(default)]
    pub section: String,
    #[serde(deserialize_with = "integer")]
    pub row: i64,
    #[serde(deserialize_with = "integer")]
    pub number: i64,
    pub grade: String,
    #[serde(default)]
    pub x: Option<i64>,
    #[serde(default)]
    pub y: Option<i64>,
}

/// A hall from a layout: seats as JSON rows, or as CSV text
/// (`section,row,number,grade,x,y`, header first).
#[derive(Debug, Deserialize, ToSchema)]
pub struct HallUpload {
    pub name: String,
    pub grades: Vec<GradePriceBody>,
    #[serde(default)]
    pub seats: Option<Vec<LayoutSeatBody>>,
    #[serde(default)]
    pub seats_csv: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HallGrade {
    pub grade: String,
    pub price: i64,
    pub seats: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Hall {
    pub hall_id: Uuid,
    pub name: String,
    pub seats: i64,
    pub grades: Vec<HallGrade>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Halls {
    pub halls: Vec<Hall>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewConcert {
    pub title: String,
    pub artist: String,
    pub venue: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConcertEdit {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub artist: Option<String>,
    #[serde(default)]
    pub venue: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminConcert {
    pub concert_id: Uuid,
    pub title: String,
    pub artist: String,
    pub venue: String,
    /// Null while a draft.
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminConcerts {
    pub concerts: Vec<AdminConcert>,
}

/// A schedule's sale settings; absent: the deployment's default.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct SaleSettingsBody {
    /// Seats one buyer may hold or own of this schedule.
    #[serde(default)]
    pub seats_per_buyer: Option<i32>,
    /// How long a hold lasts.
    #[serde(default)]
    pub hold_seconds: Option<i32>,
    /// Buyers admitted from the line per second.
    #[serde(default)]
    pub admission_rate: Option<f64>,
    /// Buyers choosing seats at once, at most.
    #[serde(default)]
    pub active_cap: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewScheduleBody {
    pub hall_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub booking_opens_at: DateTime<Utc>,
    pub booking_closes_at: DateTime<Utc>,
    #[serde(default, flatten)]
    pub settings: SaleSettingsBody,
    /// This schedule's price per grade; grades not named keep the hall's price.
    #[serde(default)]
    pub prices: Vec<GradePriceBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ScheduleEditBody {
    #[serde(default)]
    pub hall_id: Option<Uuid>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub booking_opens_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub booking_closes_at: Option<DateTime<Utc>>,
    #[serde(default, flatten)]
    pub settings: SaleSettingsBody,
    #[serde(default)]
    pub prices: Vec<GradePriceBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSchedule {
    pub schedule_id: Uuid,
    pub concert_id: Uuid,
    pub hall_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub booking_opens_at: DateTime<Utc>,
    pub booking_closes_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub settings: SaleSettingsBody,
    /// The price of each grade for this schedule.
    pub grades: Vec<GradePrice>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WithholdSeats {
    /// Seat ids of the schedule, 1 to 5,000.
    #[serde(deserialize_with = "integers")]
    pub seat_ids: Vec<i64>,
    /// Why (press, promoter, wheelchair, companion, …); required to withhold.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WithheldSeats {
    /// The seats whose status changed.
    pub changed: Vec<i64>,
    /// Seats left as they were: held, sold, already so, or not of this schedule.
    pub skipped: Vec<i64>,
}

/// An operator steering a schedule's line: `PAUSE`, `RESUME` or `RETUNE` (with a new rate
/// and/or cap).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AdmissionCommand {
    #[schema(example = "PAUSE")]
    pub action: String,
    #[serde(default)]
    pub admission_rate: Option<f64>,
    #[serde(default)]
    pub active_cap: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdmissionState {
    pub schedule_id: Uuid,
    pub paused: bool,
    pub sold_out: bool,
    /// Buyers admitted so far.
    pub served: u64,
    /// Buyers choosing seats now.
    pub active: u64,
    /// Buyers still in line.
    pub waiting: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GradeSales {
    pub grade: String,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub withheld: i64,
    /// KRW of the sold seats.
    pub revenue: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesView {
    pub schedule_id: Uuid,
    pub grades: Vec<GradeSales>,
    pub revenue: i64,
    /// Holds made in the last minute, and how many of the holds made in the last 15 minutes
    /// were paid (0 to 1).
    pub holds_last_minute: i64,
    pub hold_to_payment: f64,
    pub line: AdmissionState,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OperatorCancel {
    /// Why the operator cancels it; kept in the audit log.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminEvent {
    pub id: i64,
    pub actor_id: Uuid,
    pub actor_role: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminEvents {
    pub events: Vec<AdminEvent>,
}

use crate::{
    auth::AuthUser,
    auth::{authenticate, bearer_token},
    catalog_cache::Listing,
    dto::{ConcertList, ErrorBody, ScheduleList, SeatLayout, SeatMapBody, StreamTicket},
    error::{ApiError, ApiResult},
    extract::IdPath,
    seat_map::ScheduleMap,
    signing::StreamTickets,
    state::AppState,
    waiting_room::{require_turn, QueueTokenHeader},
};
use axum::{
    extract::{FromRequestParts, Query, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
};
use bytes::Bytes;
use futures::Stream;
use seatline_domain::{ConcertId, ScheduleId, UserId};
use seatline_storage::catalog;
use serde::{Deserialize, Serialize};
use std::{convert::Infallible, sync::Arc};
use tokio::sync::broadcast::error::RecvError;

/// Concerts, from this process' catalog cache (at most a second old).
#[utoipa::path(get, path = "/concerts", tag = "catalog",
    responses((status = 200, description = "every concert", body = ConcertList)))]
pub async fn list_concerts(State(state): State<AppState>) -> ApiResult<Response> {
    let body = state
        .catalog
        .get(Listing::Concerts, || async {
            let concerts = catalog::list_concerts(&state.pool).await?;
            let list = ConcertList {
                concerts: concerts.into_iter().map(Into::into).collect(),
            };
            Ok::<_, ApiError>(Some(json_bytes(&list)))
        })
        .await?;
    Ok(json_response(body.unwrap_or_default()))
}

/// A concert's schedules with their remaining seats, from the catalog cache (at most a
/// second old).
#[utoipa::path(get, path = "/concerts/{concert_id}/schedules", tag = "catalog",
    params(("concert_id" = Uuid, Path)),
    responses(
        (status = 200, description = "the concert's dates", body = ScheduleList),
        (status = 404, description = "NOT_FOUND (unknown concert)", body = ErrorBody),
    ))]
pub async fn list_schedules(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let concert = ConcertId::from(id);
    let body = state
        .catalog
        .get(Listing::Schedules(concert), || async {
            if !catalog::concert_exists(&state.pool, concert).await? {
                return Ok::<_, ApiError>(None);
            }
            let schedules = catalog::list_schedules(&state.pool, concert).await?;
            let list = ScheduleList {
                schedules: schedules.into_iter().map(Into::into).collect(),
            };
            Ok(Some(json_bytes(&list)))
        })
        .await?;
    body.map(json_response).ok_or(ApiError::NotFound("concert"))
}

fn json_bytes(value: &impl Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("a DTO serializes"))
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The schedule's map from this process' memory, or 404.
async fn schedule_map(state: &AppState, schedule: ScheduleId) -> ApiResult<Arc<ScheduleMap>> {
    state
        .seat_maps
        .get(schedule)
        .await
        .map_err(ApiError::Unavailable)?
        .ok_or(ApiError::NotFound("schedule"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeatMapQuery {
    /// `compact`: one status letter per seat (A, H, S) in the order of `/layout`.
    format: Option<String>,
}

/// Every seat with its status. `ETag` / `If-None-Match` answer 304 when nothing changed;
/// `?format=compact` gives one status letter per seat (A, H, S) in the order of `/layout`.
#[utoipa::path(get, path = "/schedules/{schedule_id}/seats", tag = "catalog",
    security(("bearer" = [])),
    params(("schedule_id" = Uuid, Path), SeatMapQuery,
           ("X-Queue-Token" = Option<String>, Header, description = "an ACTIVE place in line; without it: 401 TOKEN_NOT_FOUND")),
    responses(
        (status = 200, description = "the seat map (gzip when accepted)", body = SeatMapBody),
        (status = 304, description = "unchanged since the `If-None-Match` ETag"),
        (status = 401, description = "UNAUTHORIZED · TOKEN_NOT_FOUND · TOKEN_EXPIRED", body = ErrorBody),
        (status = 403, description = "WRONG_TOKEN_TURN (details.position)", body = ErrorBody),
        (status = 404, description = "NOT_FOUND (unknown schedule)", body = ErrorBody),
    ))]
pub async fn seat_map(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    IdPath(id): IdPath,
    Query(query): Query<SeatMapQuery>,
    conditions: ReadConditions,
) -> ApiResult<Response> {
    let schedule = ScheduleId::from(id);
    let map = schedule_map(&state, schedule).await?;
    require_turn(&state, user, token.as_deref(), schedule).await?;
    let rendered = map.rendered();
    let compact = query.format.as_deref() == Some("compact");
    let etag = format!(
        "\"{}-{}-{:x}\"",
        if compact { "c" } else { "f" },
        rendered.version,
        rendered.digest
    );
    let not_modified = conditions
        .if_none_match
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let (plain, gzip) = match compact {
        true => (rendered.compact, rendered.compact_gzip),
        false => (rendered.json, rendered.gzip),
    };
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else if conditions.gzip {
        (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            gzip,
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], plain).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("ascii"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    Ok(response)
}

/// The two request headers the seat map answers to, taken without copying the whole header
/// map (the seat map is the most read endpoint).
pub struct ReadConditions {
    if_none_match: Option<HeaderValue>,
    gzip: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for ReadConditions {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        Ok(Self {
            if_none_match: headers.get(header::IF_NONE_MATCH).cloned(),
            gzip: headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip"))),
        })
    }
}

/// The static layout of a schedule's hall; it never changes, so it is cached forever.
#[utoipa::path(get, path = "/schedules/{schedule_id}/seats/layout", tag = "catalog",
    params(("schedule_id" = Uuid, Path)),
    responses(
        (status = 200, description = "the hall, in the order of the compact map", body = SeatLayout),
        (status = 404, description = "NOT_FOUND (unknown schedule)", body = ErrorBody),
    ))]
pub async fn seat_layout(State(state): State<AppState>, IdPath(id): IdPath) -> ApiResult<Response> {
    let map = schedule_map(&state, ScheduleId::from(id)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        map.layout_json(),
    )
        .into_response())
}

/// A ticket for the seat-change stream of a schedule, for a buyer whose turn it is. Browsers'
/// EventSource sends no headers; the ticket goes in the query instead of the bearer token.
#[utoipa::path(post, path = "/schedules/{schedule_id}/seats/stream-tickets", tag = "catalog",
    security(("bearer" = [])),
    params(("schedule_id" = Uuid, Path),
           ("X-Queue-Token" = Option<String>, Header, description = "an ACTIVE place in line; without it: 401 TOKEN_NOT_FOUND")),
    responses(
        (status = 201, description = "a ticket valid for 30 seconds", body = StreamTicket),
        (status = 401, description = "UNAUTHORIZED · TOKEN_NOT_FOUND · TOKEN_EXPIRED", body = ErrorBody),
        (status = 403, description = "WRONG_TOKEN_TURN (details.position)", body = ErrorBody),
        (status = 404, description = "NOT_FOUND (unknown schedule)", body = ErrorBody),
    ))]
pub async fn stream_ticket(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    QueueTokenHeader(token): QueueTokenHeader,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, axum::Json<StreamTicket>)> {
    let schedule = ScheduleId::from(id);
    schedule_map(&state, schedule).await?;
    require_turn(&state, user, token.as_deref(), schedule).await?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    Ok((
        StatusCode::CREATED,
        axum::Json(StreamTicket {
            ticket: state.stream_tickets.issue(user, schedule, now_ms),
            expires_in: (StreamTickets::TTL_MS / 1_000) as u64,
        }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// A ticket from `POST .../seats/stream-tickets`, for clients that can't send headers.
    ticket: Option<String>,
}

/// Server-sent events of seat changes (`event: seats`, data `{version, changes}`). Open it with
/// `?ticket=` (browsers) or with the bearer and queue token headers.
#[utoipa::path(get, path = "/schedules/{schedule_id}/seats/stream", tag = "catalog",
    params(("schedule_id" = Uuid, Path), StreamQuery,
           ("X-Queue-Token" = Option<String>, Header, description = "with a bearer token: an ACTIVE place in line")),
    responses(
        (status = 200, description = "`event: seats` with `{version, changes: [{seat_id, status}]}`; `event: resync` when the client fell behind", content_type = "text/event-stream", body = String),
        (status = 401, description = "UNAUTHORIZED: no valid ticket or bearer token · TOKEN_NOT_FOUND · TOKEN_EXPIRED", body = ErrorBody),
        (status = 403, description = "WRONG_TOKEN_TURN (details.position)", body = ErrorBody),
        (status = 404, description = "NOT_FOUND (unknown schedule)", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED: this account has as many streams open as it may", body = ErrorBody),
    ))]
pub async fn seat_stream(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let schedule = ScheduleId::from(id);
    let map = schedule_map(&state, schedule).await?;
    let user = match (query.ticket, bearer_token(&headers)) {
        (Some(ticket), _) => {
            let now_ms = chrono::Utc::now().timestamp_millis();
            state
                .stream_tickets
                .verify(&ticket, schedule, now_ms)
                .ok_or(ApiError::Unauthorized)?
        }
        (None, Some(bearer)) => {
            let user = authenticate(&state, bearer)?.user;
            let queue_token = headers
                .get(crate::waiting_room::QUEUE_TOKEN_HEADER)
                .and_then(|v| v.to_str().ok());
            require_turn(&state, user, queue_token, schedule).await?;
            user
        }
        (None, None) => return Err(ApiError::Unauthorized),
    };
    let slot = StreamSlot::take(&state, user)?;
    let receiver = map.changes.subscribe();
    let stream = futures::stream::unfold((receiver, slot), |(mut rx, slot)| async move {
        let event = match rx.recv().await {
            Ok(payload) => Event::default().event("seats").data(payload.as_ref()),
            // Too slow to keep up: tell the page to fetch the whole map again.
            Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), (rx, slot)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One of an account's `MAX_STREAMS_PER_ACCOUNT` streams on this process, given back (and the
/// subscriber gauge lowered) when the stream ends.
struct StreamSlot {
    state: AppState,
    user: UserId,
}

impl StreamSlot {
    fn take(state: &AppState, user: UserId) -> ApiResult<Self> {
        let mut open = state.open_streams.lock().expect("lock");
        let count = open.entry(user).or_default();
        if *count >= state.settings.limits.streams_per_account {
            return Err(ApiError::RateLimited {
                retry_after_seconds: 5,
            });
        }
        *count += 1;
        metrics::gauge!("seat_stream_subscribers").increment(1.0);
        Ok(Self {
            state: state.clone(),
            user,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        metrics::gauge!("seat_stream_subscribers").decrement(1.0);
        let mut open = self.state.open_streams.lock().expect("lock");
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

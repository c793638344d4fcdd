//! The OpenAPI 3.1 description of `/api/v1`, served at `/openapi.json` and rendered at `/docs`.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "type": "object" } } } })
}

fn body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn id_param(name: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } })
}

pub fn document() -> Value {
    let user = json!([{ "bearer": [] }]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Seatline API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Concert seat reservations. Errors have the shape {\"error\": {code, message, details}}. Money is an integer in KRW."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                    "type": "object", "required": ["code", "message", "details"],
                    "properties": { "code": { "type": "string" }, "message": { "type": "string" }, "details": { "type": "object" } } } } },
                "Reservation": { "type": "object", "properties": {
                    "reservation_id": { "type": "string", "format": "uuid" },
                    "schedule_id": { "type": "string", "format": "uuid" },
                    "status": { "type": "string", "enum": ["HELD", "CONFIRMED", "EXPIRED", "CANCELLED", "REFUNDED"] },
                    "seats": { "type": "array", "items": { "type": "object" } },
                    "amount": { "type": "integer" },
                    "expires_at": { "type": "string", "format": "date-time" } } }
            }
        },
        "paths": {
            "/api/v1/users": { "post": {
                "summary": "Create a user; returns its bearer token",
                "requestBody": body(json!({ "type": "object", "required": ["name"], "properties": { "name": { "type": "string", "maxLength": 100 } } })),
                "responses": { "201": ok("user_id, name, token"), "400": error_response("malformed JSON"), "422": error_response("invalid name") } } },
            "/api/v1/concerts": { "get": { "summary": "Concerts", "responses": { "200": ok("concerts") } } },
            "/api/v1/concerts/{concert_id}/schedules": { "get": {
                "summary": "Dates of a concert with booking window and available_seats",
                "parameters": [id_param("concert_id")],
                "responses": { "200": ok("schedules"), "404": error_response("unknown concert") } } },
            "/api/v1/schedules/{schedule_id}/seats": { "get": {
                "summary": "Seat map: every seat with row, number, grade, price and status",
                "parameters": [id_param("schedule_id")], "security": user,
                "responses": { "200": ok("seat map"), "404": error_response("unknown schedule") } } },
            "/api/v1/reservations": { "post": {
                "summary": "Hold 1 to 4 seats of one schedule, all or nothing",
                "security": user,
                "requestBody": body(json!({ "type": "object", "required": ["schedule_id", "seat_ids"], "properties": {
                    "schedule_id": { "type": "string", "format": "uuid" },
                    "seat_ids": { "type": "array", "items": { "type": "integer" }, "minItems": 1, "maxItems": 4 } } })),
                "responses": { "201": { "description": "held", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Reservation" } } } },
                               "409": error_response("SEAT_UNAVAILABLE (details.seat_ids) or BOOKING_CLOSED"),
                               "503": error_response("BUSY: too many holds in flight; nothing was held, retry after Retry-After seconds"),
                               "422": error_response("VALIDATION_FAILED or UNKNOWN_SEATS"),
                               "401": error_response("missing or invalid token") } } },
            "/api/v1/reservations/{id}": { "get": {
                "summary": "A reservation of the caller", "parameters": [id_param("id")], "security": user,
                "responses": { "200": { "description": "reservation", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Reservation" } } } },
                               "404": error_response("unknown, or someone else's") } } },
            "/api/v1/reservations/{id}/payment": { "post": {
                "summary": "Pay a held reservation from the balance", "parameters": [id_param("id")], "security": user,
                "responses": { "200": ok("CONFIRMED with amount and balance"),
                               "402": error_response("INSUFFICIENT_BALANCE"),
                               "409": error_response("RESERVATION_EXPIRED or ALREADY_CONFIRMED"),
                               "404": error_response("unknown, or someone else's") } } },
            "/api/v1/reservations/{id}/cancel": { "post": {
                "summary": "Release a hold early", "parameters": [id_param("id")], "security": user,
                "responses": { "200": ok("CANCELLED"), "409": error_response("already paid or expired"), "404": error_response("unknown") } } },
            "/api/v1/reservations/{id}/events": { "get": {
                "summary": "Audit log of a reservation", "parameters": [id_param("id")], "security": user,
                "responses": { "200": ok("events with kind, actor, details, created_at"), "404": error_response("unknown") } } },
            "/api/v1/users/me/reservations": { "get": { "summary": "Booking history", "security": user, "responses": { "200": ok("reservations") } } },
            "/api/v1/users/me/balance": { "get": { "summary": "Balance", "security": user, "responses": { "200": ok("balance") } } },
            "/api/v1/users/me/balance/charges": { "post": {
                "summary": "Charge the balance (1 to 10,000,000)", "security": user,
                "requestBody": body(json!({ "type": "object", "required": ["amount"], "properties": { "amount": { "type": "integer", "minimum": 1, "maximum": 10_000_000 } } })),
                "responses": { "200": ok("new balance"), "422": error_response("VALIDATION_FAILED or BALANCE_LIMIT_EXCEEDED") } } },
            "/api/v1/users/me/balance/history": { "get": { "summary": "CHARGE / USE / REFUND entries", "security": user, "responses": { "200": ok("entries") } } },
            "/healthz": { "get": { "summary": "Liveness", "responses": { "200": ok("ok") } } },
            "/readyz": { "get": { "summary": "PostgreSQL, Redis and Temporal reachable", "responses": { "200": ok("ready"), "503": ok("not ready") } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "text exposition format" } } } }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_path_has_a_summary() {
        let doc = super::document();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                assert!(op["summary"].is_string(), "{method} {path} lacks a summary");
            }
        }
    }
}

//! Where stores post their own webhooks: `POST /connections/woocommerce/{connection_id}`. A
//! delivery is verified, stored durably and answered at once (the platforms give a few seconds);
//! the inbox worker applies it afterwards. A bad signature is a 401 problem, logged without the
//! body; a topic Tally does not use is accepted and counted, so the store keeps the webhook on.

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};

use super::{problem::Problem, AppState};
use crate::{connections::woocommerce, secrets, storage::Arrival};

/// Orders with many lines are larger than the API's bodies.
const MAX_DELIVERY_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections/woocommerce/{connection_id}", post(from_woocommerce))
        .layer(DefaultBodyLimit::max(MAX_DELIVERY_BYTES))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn from_woocommerce(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Problem> {
    let not_found = || Problem::not_found("No WooCommerce connection has this URL.");
    let connection = state.storage.connection(&connection_id).await?.ok_or_else(not_found)?;
    if connection.platform != "woocommerce" {
        return Err(not_found());
    }
    let topic = header(&headers, "x-wc-webhook-topic").unwrap_or_default().to_owned();
    match header(&headers, "x-wc-webhook-signature") {
        Some(signature) if woocommerce::signature_matches(&connection.secret, &body, signature) => {}
        // Saving a webhook in WooCommerce sends this, unsigned, to check the URL answers.
        None if woocommerce::is_ping(&body) => return Ok(StatusCode::OK),
        _ => {
            tracing::warn!(connection = %connection.id, %topic, bytes = body.len(),
                "a WooCommerce delivery with a missing or wrong signature was refused");
            return Err(Problem::unauthorized(
                "X-WC-Webhook-Signature does not match: paste the connection's secret into the webhook's Secret field.",
            ));
        }
    }
    if woocommerce::is_ping(&body) {
        return Ok(StatusCode::OK);
    }
    let body = String::from_utf8(body.to_vec())
        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "bad_request", "Bad request", "The body is not UTF-8."))?;
    let (subject, ignored) = match woocommerce::read(&topic, body.as_bytes()) {
        Ok(Some(change)) => (change.subject(), false),
        Ok(None) => (format!("topic:{topic}"), true),
        // Kept, and failed by the worker with the reason, so the admin sees it.
        Err(_) => ("malformed".to_owned(), false),
    };
    let arrival = Arrival {
        connection_id: connection.id.clone(),
        // WooCommerce gives each attempt its own delivery id: the same topic and body is the
        // same delivery.
        delivery_key: secrets::fingerprint(format!("{topic}\n{body}").as_bytes()),
        topic,
        subject,
        body,
        ignored,
        received_at: state.clock.now(),
    };
    state.storage.receive(&arrival).await?;
    state.points.wake_outbox();
    Ok(StatusCode::OK)
}

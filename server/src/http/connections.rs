//! Where stores post their own webhooks: `POST /connections/{woocommerce|shopify}/{id}`. A
//! delivery is verified, stored durably and answered at once (Shopify gives 5 seconds); the
//! inbox worker applies it afterwards. A bad signature is a 401 problem, logged without the
//! body; a topic Tally does not use is accepted and counted, so the store keeps the webhook on.

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};

use super::{problem::Problem, AppState};
use crate::{
    connections::{read_delivery, signature_matches, woocommerce},
    secrets,
    storage::Arrival,
};

/// Orders with many lines are larger than the API's bodies.
const MAX_DELIVERY_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections/{platform}/{connection_id}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_DELIVERY_BYTES))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// How each platform names its topic, signature and delivery id headers.
struct Headers {
    topic: &'static str,
    signature: &'static str,
    /// Shopify keeps one id across retries; WooCommerce gives each attempt its own.
    delivery_id: Option<&'static str>,
}

fn headers_of(platform: &str) -> Option<Headers> {
    match platform {
        "woocommerce" => {
            Some(Headers { topic: "x-wc-webhook-topic", signature: "x-wc-webhook-signature", delivery_id: None })
        }
        "shopify" => Some(Headers {
            topic: "x-shopify-topic",
            signature: "x-shopify-hmac-sha256",
            delivery_id: Some("x-shopify-webhook-id"),
        }),
        _ => None,
    }
}

async fn receive(
    State(state): State<AppState>,
    Path((platform, connection_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, Problem> {
    let not_found = || Problem::not_found("No store connection has this URL.");
    let names = headers_of(&platform).ok_or_else(not_found)?;
    let connection = state.storage.connection(&connection_id).await?.ok_or_else(not_found)?;
    if connection.platform != platform {
        return Err(not_found());
    }
    let topic = header(&headers, names.topic).unwrap_or_default().to_owned();
    let ping = platform == "woocommerce" && woocommerce::is_ping(&body);
    match header(&headers, names.signature) {
        Some(signature) if signature_matches(&connection.secret, &body, signature) => {}
        // Saving a webhook in WooCommerce sends this, unsigned, to check that the URL answers.
        None if ping => return Ok(StatusCode::OK),
        _ => {
            tracing::warn!(connection = %connection.id, %platform, %topic, bytes = body.len(),
                "a store delivery with a missing or wrong signature was refused");
            return Err(Problem::unauthorized(
                "The delivery's signature does not match: give the store the connection's secret.",
            ));
        }
    }
    if ping {
        return Ok(StatusCode::OK);
    }
    let body = String::from_utf8(body.to_vec())
        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "bad_request", "Bad request", "The body is not UTF-8."))?;
    // Only Shopify's refunds need the program's currency to be read.
    let currency = match platform.as_str() {
        "shopify" => state.storage.program_by_id(&connection.program_id).await?.ok_or_else(not_found)?.currency,
        _ => String::new(),
    };
    let (subject, ignored) = match read_delivery(&platform, &topic, body.as_bytes(), &currency) {
        Ok(Some(change)) => (change.subject(), false),
        Ok(None) => (format!("topic:{topic}"), true),
        // Kept, and failed by the worker with the reason, so the admin sees it.
        Err(_) => ("malformed".to_owned(), false),
    };
    let delivery_key = match names.delivery_id.and_then(|name| header(&headers, name)) {
        Some(id) if !id.is_empty() && id.len() <= 200 => format!("id:{id}"),
        // The same topic and body is the same delivery.
        _ => secrets::fingerprint(format!("{topic}\n{body}").as_bytes()),
    };
    let arrival = Arrival {
        connection_id: connection.id.clone(),
        delivery_key,
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

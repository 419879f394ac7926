//! `POST /api/v1/events`: what happened in the merchant's store. Orders earn points under the
//! program's purchase rule, actions (signup, review, birthday, ...) under its action rules and
//! their caps; the customer is created on their first event.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::openapi::WriteErrors;
use super::{client_id, customer_id, respond, ApiJson, CurrentProgram, MAX_POINTS_PER_WRITE};
use crate::{
    customers::CustomerId,
    http::{problem::Problem, AppState},
    ledger::{Operation, Timestamp},
    programs::Program,
    rules::{CampaignTarget, Minor, Order, OrderLine},
    storage::{CapCheck, ClientId, LedgerWrite, Referral, ReferralOutcome, WriteOutcome, WriteResult},
};

/// The purchase multiplier of the customer's current tier (100 for new customers).
async fn current_tier_percent(state: &AppState, program: &Program, customer: &CustomerId) -> Result<u32, Problem> {
    let ladder = &program.settings.tiers;
    if ladder.tiers.is_empty() {
        return Ok(100);
    }
    let record = state.storage.customer(&program.id, customer, program.settings.expiry).await?;
    Ok(ladder.multiplier(record.and_then(|record| record.tier_id).as_deref()))
}

/// Events may be reported late, but not from the future (beyond clock skew).
const MAX_CLOCK_SKEW_MS: i64 = 5 * 60_000;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/events", post(record))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    event_id: String,
    customer_id: String,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: Option<Timestamp>,
    order_id: Option<String>,
    currency: Option<String>,
    subtotal: Option<Minor>,
    #[serde(default)]
    shipping: Minor,
    #[serde(default)]
    tax: Minor,
    #[serde(default)]
    discount: Minor,
    #[serde(default)]
    lines: Vec<OrderLine>,
    /// For `referral` events: the customer who referred this one.
    referrer_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct EventResponse {
    event_id: String,
    #[serde(flatten)]
    result: WriteResult,
}

#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = EventRequest,
    responses((status = 201, description = "Points earned (or, for `referral`, the referral recorded: ReferralResponse)", body = EventResponse),
        (status = 200, description = "A replay: the original result", body = EventResponse),
        WriteErrors))]
async fn record(
    State(state): State<AppState>,
    program: CurrentProgram,
    body: ApiJson<EventRequest>,
) -> Result<Response, Problem> {
    let event = &body.value;
    client_id("event_id", &event.event_id)?;
    let customer = customer_id(&event.customer_id)?;
    let now = state.clock.now();
    let occurred_at = event.occurred_at.unwrap_or(now);
    if occurred_at.0 > now.0 + MAX_CLOCK_SKEW_MS {
        return Err(Problem::invalid_field("occurred_at", "occurred_at is in the future"));
    }
    if event.kind == "referral" {
        return record_referral(&state, &program, event, customer, now).await;
    }
    let is_order = event.kind == "order";
    let (operation, source, reference, snapshot, cap) = match event.kind.as_str() {
        "order" => {
            let order_id = event
                .order_id
                .clone()
                .ok_or_else(|| Problem::invalid_field("order_id", "an order event needs order_id"))?;
            client_id("order_id", &order_id)?;
            match &event.currency {
                Some(currency) if *currency == program.currency => {}
                Some(currency) => {
                    return Err(Problem::invalid_field(
                        "currency",
                        format!("this program counts in {}, not {currency}", program.currency),
                    ))
                }
                None => return Err(Problem::invalid_field("currency", "an order event needs currency")),
            }
            let subtotal =
                event.subtotal.ok_or_else(|| Problem::invalid_field("subtotal", "an order event needs subtotal"))?;
            let order = Order {
                subtotal,
                shipping: event.shipping,
                tax: event.tax,
                discount: event.discount,
                lines: event.lines.clone(),
            };
            order.validate().map_err(|error| Problem::invalid_field(error.field(), error.to_string()))?;
            let tier_percent = current_tier_percent(&state, &program, &customer).await?;
            let campaign_percent = program.settings.campaign_percent(occurred_at, CampaignTarget::Purchases);
            let snapshot = program.settings.purchase.points_for(&order, tier_percent, campaign_percent);
            if snapshot.points > MAX_POINTS_PER_WRITE {
                return Err(Problem::invalid_field("subtotal", "this order would earn more points than allowed"));
            }
            let available_at = Timestamp(occurred_at.plus_days(program.settings.pending_days).0.max(now.0));
            let paid = order.subtotal - order.discount + order.shipping + order.tax;
            let operation = Operation::EarnOrder {
                order_id: order_id.clone(),
                points: snapshot.points,
                amount: paid,
                available_at,
            };
            let snapshot = serde_json::to_value(&snapshot).expect("snapshots serialise");
            (operation, "purchase".to_owned(), Some(order_id), Some(snapshot), None)
        }
        action => {
            let rule = program.settings.action_rule(action).ok_or_else(|| {
                Problem::invalid_field(
                    "type",
                    format!("no earning rule for {action:?} in this program (see `actions` in the settings)"),
                )
            })?;
            let cap = rule.effective_cap().map(|cap| CapCheck { since: now.start_of(cap.per), max: cap.count });
            let campaign_percent = program.settings.campaign_percent(occurred_at, CampaignTarget::Actions);
            let points = rule.points * i64::from(campaign_percent) / 100;
            let snapshot = json!({"rule": rule, "campaign_percent": campaign_percent, "points": points});
            (Operation::Earn { points, available_at: now }, action.to_owned(), None, Some(snapshot), cap)
        }
    };
    let client = ClientId { kind: "event", id: event.event_id.clone(), request_hash: body.fingerprint.clone() };
    let mut write = LedgerWrite::new(&program, customer, Some(client), operation, &source, now);
    write.reference = reference;
    write.rule_snapshot = snapshot;
    write.cap = cap;
    let outcome = state.storage.write_ledger(&write).await?;
    if is_order && matches!(outcome, WriteOutcome::Applied(_) | WriteOutcome::Replayed(_)) {
        award_referral(&state, &program, &write.customer_id, now).await?;
    }
    respond(outcome, ("event_id", &event.event_id), |result| EventResponse { event_id: event.event_id.clone(), result })
}

#[derive(Serialize, utoipa::ToSchema)]
struct ReferralResponse {
    event_id: String,
    referral: Referral,
}

/// A `referral` event: remembers who referred the customer. Both earn on the customer's first
/// order (see [`award_referral`]).
async fn record_referral(
    state: &AppState,
    program: &Program,
    event: &EventRequest,
    referred: CustomerId,
    now: Timestamp,
) -> Result<Response, Problem> {
    if program.settings.action_rule("referral").is_none() {
        return Err(Problem::invalid_field("type", "no earning rule for \"referral\" in this program"));
    }
    let raw_referrer = event
        .referrer_id
        .as_deref()
        .ok_or_else(|| Problem::invalid_field("referrer_id", "a referral needs referrer_id"))?;
    let referrer = CustomerId::parse(raw_referrer).map_err(|e| Problem::invalid_field("referrer_id", e.to_string()))?;
    if referrer == referred {
        return Err(Problem::invalid_field("referrer_id", "a customer cannot refer themselves"));
    }
    if state.storage.customer(&program.id, &referrer, program.settings.expiry).await?.is_none() {
        return Err(Problem::invalid_field("referrer_id", format!("no customer {raw_referrer:?} in this program")));
    }
    if state.storage.order_count(&program.id, &referred).await? > 0 {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "already_ordered",
            "Already a customer",
            "Referrals count for new customers: this one has already ordered.",
        ));
    }
    let respond_with = |status, referral| {
        (status, Json(ReferralResponse { event_id: event.event_id.clone(), referral })).into_response()
    };
    match state.storage.record_referral(&program.id, &referred, &referrer, now).await? {
        ReferralOutcome::Recorded(referral) => Ok(respond_with(StatusCode::CREATED, referral)),
        ReferralOutcome::AlreadyRecorded(referral) => Ok(respond_with(StatusCode::OK, referral)),
        ReferralOutcome::Conflict(referral) => Err(Problem::new(
            StatusCode::CONFLICT,
            "already_referred",
            "Already referred",
            format!("This customer was referred by {:?}.", referral.referrer_id),
        )),
    }
}

/// On a referred customer's first order, the referrer earns the referral rule's points (within
/// its cap) and the customer its `referred_points`. Each award has its own client id, so a retry
/// after a crash completes what is missing and never pays twice.
async fn award_referral(
    state: &AppState,
    program: &Program,
    referred: &CustomerId,
    now: Timestamp,
) -> Result<(), Problem> {
    let Some(rule) = program.settings.action_rule("referral") else { return Ok(()) };
    let Some(referral) = state.storage.referral(&program.id, referred).await? else { return Ok(()) };
    if referral.rewarded_at.is_some() {
        return Ok(());
    }
    let referrer = customer_id(&referral.referrer_id)?;
    let awards = [
        (referrer, rule.points, "referral", "referrer"),
        (referred.clone(), rule.referred_points.unwrap_or(0), "referred", "referred"),
    ];
    for (customer, points, source, role) in awards {
        if points <= 0 {
            continue;
        }
        let client =
            ClientId { kind: "referral", id: format!("{role}:{}", referred.as_str()), request_hash: String::new() };
        let mut write = LedgerWrite::new(
            program,
            customer,
            Some(client),
            Operation::Earn { points, available_at: now },
            source,
            now,
        );
        write.reference = Some(referred.as_str().to_owned());
        if role == "referrer" {
            write.cap = rule.effective_cap().map(|cap| CapCheck { since: now.start_of(cap.per), max: cap.count });
        }
        // A referrer over their cap simply earns nothing for this one.
        state.storage.write_ledger(&write).await?;
    }
    state.storage.mark_referral_rewarded(&program.id, referred, now).await?;
    Ok(())
}

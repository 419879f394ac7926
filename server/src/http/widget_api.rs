//! The widget API (`/widget/v1/programs/{key}/...`), called from shoppers' browsers on
//! storefront origins. CORS is answered per program: only the program's allowed origins get
//! access. Signed-in shoppers send the merchant-signed customer token
//! (`Authorization: Bearer <JWT>`); everything else is public program information.

use std::collections::HashMap;

use axum::{
    extract::{FromRequestParts, Path, Query, Request, State},
    http::{header, request::Parts, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Extension, Json, Router,
};
use serde::Deserialize;
use tally_app::api_types::{
    Branding, CouponSummary, CustomerSummary, HistoryEntry, HistoryPage, ProgramSummary, ReferralCapture, ReferralLink,
    RewardSummary, TierSummary, VariablePoints, WayToEarn,
};

use super::{
    api::{
        customers::parse_cursor,
        rewards::{redeem_for, RedemptionRequest},
        ApiJson,
    },
    client::ClientInfo,
    problem::Problem,
    AppState,
};
use crate::{
    customer_token::{self, CustomerClaims},
    points::ReferralClaim,
    programs::{Program, WidgetSettings},
    rewards::{Coupon, CouponStatus, RewardKind},
    storage::CheckoutState,
    tiers::Tier,
};

/// Coupons listed in "my coupons".
const COUPONS_SHOWN: u32 = 20;
const HISTORY_PAGE: u32 = 20;

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/widget/v1/programs/{key}", get(program_summary).options(preflight))
        .route("/widget/v1/programs/{key}/me", get(me).options(preflight))
        .route("/widget/v1/programs/{key}/me/history", get(history).options(preflight))
        .route("/widget/v1/programs/{key}/me/redemptions", post(redeem).options(preflight))
        .route("/widget/v1/programs/{key}/me/referral", post(claim_referral).options(preflight))
        .route_layer(middleware::from_fn_with_state(state.clone(), load_program_with_cors))
}

/// What every visitor sees: the program, how to earn, what to redeem, the tiers.
fn branding(widget: &WidgetSettings) -> Branding {
    Branding {
        primary_color: widget.primary_color.clone(),
        on_primary_color: widget.on_primary_color().map(str::to_owned),
        launcher_position: widget.launcher_position.as_str().to_owned(),
        launcher_label: widget.launcher_label.clone(),
        join_url: widget.join_url.clone(),
        sign_in_url: widget.sign_in_url.clone(),
    }
}

async fn program_summary(
    State(state): State<AppState>,
    Extension(program): Extension<Program>,
) -> Result<Json<ProgramSummary>, Problem> {
    let now = state.clock.now();
    let rewards = state.storage.rewards(&program.id).await?;
    let settings = &program.settings;
    let purchase = &settings.purchase;
    let mut ways_to_earn = vec![WayToEarn {
        action: "purchase".into(),
        points: purchase.points,
        per_amount: Some(purchase.per_amount),
        referred_points: None,
    }];
    ways_to_earn.extend(settings.actions.iter().map(|rule| WayToEarn {
        action: rule.action.clone(),
        points: rule.points,
        per_amount: None,
        referred_points: rule.referred_points,
    }));
    Ok(Json(ProgramSummary {
        name: program.name.clone(),
        currency: program.currency.clone(),
        points_name: program.points_name.clone(),
        ways_to_earn,
        rewards: rewards.iter().filter(|reward| reward.is_available(now)).map(reward_summary).collect(),
        tiers: settings.tiers.tiers.iter().map(tier_summary).collect(),
        branding: branding(&settings.widget),
        referral_capture: settings.action_rule("referral").map(|_| ReferralCapture {
            parameter: settings.referrals.parameter.clone(),
            keep_days: settings.referrals.keep_days,
        }),
    }))
}

/// The link a shopper shares: the storefront (the emails' storefront URL, else the program's
/// first allowed origin) with the code in the program's parameter.
fn referral_url(program: &Program, code: &str) -> Option<String> {
    let store = program.settings.notifications.storefront_url.clone().or_else(|| {
        program.allowed_origins.first().map(|origin| format!("{origin}/"))
    })?;
    let separator = if store.contains('?') { '&' } else { '?' };
    Some(format!("{store}{separator}{}={code}", program.settings.referrals.parameter))
}

fn reward_summary(reward: &crate::rewards::Reward) -> RewardSummary {
    let definition = &reward.definition;
    let variable = match definition.reward {
        RewardKind::PointsToCurrency { points_per_unit, unit_value, min_points, max_points, step } => {
            Some(VariablePoints { min: min_points, max: max_points, step, unit_value, points_per_unit })
        }
        _ => None,
    };
    RewardSummary {
        id: reward.id.clone(),
        name: definition.name.clone(),
        description: definition.description.clone(),
        points: variable.map_or(definition.points, |range| range.min),
        variable,
        min_tier: definition.min_tier.clone(),
    }
}

fn tier_summary(tier: &Tier) -> TierSummary {
    TierSummary {
        id: tier.id.clone(),
        name: tier.name.clone(),
        threshold: tier.threshold,
        multiplier_percent: tier.multiplier_percent,
        benefits: tier.benefits.clone(),
    }
}

/// The shopper named by a valid customer token for this program. A missing, forged or expired
/// token is a 401 whose detail says why, for the merchant to read in the browser console.
struct Shopper(CustomerClaims);

impl FromRequestParts<AppState> for Shopper {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let program =
            parts.extensions.get::<Program>().ok_or_else(|| Problem::not_found("No program.").into_response())?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                token_problem("Send the customer token as `Authorization: Bearer <JWT>`.".into()).into_response()
            })?;
        let claims = customer_token::verify(
            token.trim(),
            &program.widget_secret,
            state.clock.now(),
            program.settings.widget.token_max_lifetime_seconds(),
        )
        .map_err(|error| token_problem(error.to_string()).into_response())?;
        let key = format!("{}/{}", program.id, claims.customer_id.as_str());
        state.widget_limits.per_shopper.check(&key).map_err(|refusal| refusal.response())?;
        Ok(Shopper(claims))
    }
}

fn token_problem(detail: String) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "invalid_customer_token", "Invalid customer token", detail)
}

/// The signed-in shopper's balances, tier, progress and coupons. A shopper the merchant has not
/// reported yet simply has nothing yet.
async fn me(
    State(state): State<AppState>,
    Extension(program): Extension<Program>,
    Shopper(claims): Shopper,
) -> Result<Json<CustomerSummary>, Problem> {
    let now = state.clock.now();
    let id = &claims.customer_id;
    let mut summary = CustomerSummary {
        customer_id: id.as_str().to_owned(),
        available: 0,
        pending: 0,
        lifetime_earned: 0,
        expiring_soon: 0,
        expiring_within_days: program.settings.notifications.expiry_warning_days,
        tier: None,
        next_tier: program.settings.tiers.tiers.first().map(tier_summary),
        to_next_tier: program.settings.tiers.tiers.first().map(|tier| tier.threshold),
        coupons: Vec::new(),
        referral: None,
    };
    if program.settings.action_rule("referral").is_some() {
        let code = state.points.referral_code(&program, id).await?;
        summary.referral = Some(ReferralLink { url: referral_url(&program, &code), code });
    }
    let Some(account) = state.points.account(&program, id).await? else {
        return Ok(Json(summary));
    };
    summary.available = account.balances.available;
    summary.pending = account.balances.pending;
    summary.expiring_soon = account.balances.expiring_soon;
    summary.lifetime_earned = account.record.lifetime_earned;
    if let Some(tiers) = &account.tiers {
        summary.tier = tiers.tier.as_ref().map(tier_summary);
        summary.next_tier = tiers.next_tier.as_ref().map(tier_summary);
        summary.to_next_tier = tiers.to_next_tier;
    }
    let coupons = state.storage.customer_coupons(&program.id, id, COUPONS_SHOWN).await?;
    let checkout = checkout_states(&state, &program, &coupons).await?;
    summary.coupons = coupons
        .into_iter()
        .map(|coupon| CouponSummary {
            usable: coupon.status == CouponStatus::Issued && coupon.expires_at > now,
            checkout: checkout.as_ref().map(|states| {
                match states.get(&coupon.code) {
                    Some(CheckoutState::Created) => "ready",
                    Some(CheckoutState::Failed) => "failed",
                    // Not queued yet: the redemption's event is relayed in a moment.
                    Some(CheckoutState::Pending) | None => "pending",
                }
                .to_owned()
            }),
            code: coupon.code,
            reward_id: coupon.reward_id,
            points: coupon.points,
            status: coupon.status.as_str().to_owned(),
            expires_at: coupon.expires_at.to_string(),
        })
        .collect();
    Ok(Json(summary))
}

/// Where each coupon stands in the program's stores, when any creates Tally's coupons
/// (`None`: none does, the shopper is told nothing about it).
async fn checkout_states(
    state: &AppState,
    program: &Program,
    coupons: &[Coupon],
) -> Result<Option<HashMap<String, CheckoutState>>, Problem> {
    if coupons.is_empty() {
        return Ok(None);
    }
    let codes: Vec<String> = coupons.iter().map(|coupon| coupon.code.clone()).collect();
    Ok(state.storage.checkout_states(&program.id, &codes).await?)
}

#[derive(Deserialize)]
struct HistoryQuery {
    cursor: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    Extension(program): Extension<Program>,
    Shopper(claims): Shopper,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<HistoryPage>, Problem> {
    let Query(query) = query.map_err(|rejection| Problem::invalid_field("query", rejection.body_text()))?;
    let before = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let now = state.clock.now();
    let entries = state.storage.entries(&program.id, &claims.customer_id, before, HISTORY_PAGE).await?;
    let next_cursor = (entries.len() == HISTORY_PAGE as usize).then(|| entries.last().map(|e| e.seq)).flatten();
    let entries = entries
        .into_iter()
        .map(|entry| HistoryEntry {
            kind: entry.kind.as_str().to_owned(),
            points: entry.points,
            source: entry.source,
            created_at: entry.created_at.to_string(),
            pending: entry.available_at > now,
        })
        .collect();
    Ok(Json(HistoryPage { entries, next_cursor }))
}

/// Redeems for the signed-in shopper, through the same code path as the merchant API.
async fn redeem(
    State(state): State<AppState>,
    Extension(program): Extension<Program>,
    Shopper(claims): Shopper,
    body: ApiJson<RedemptionRequest>,
) -> Result<Response, Problem> {
    redeem_for(&state, &program, body.value.for_customer(claims.customer_id.as_str().to_owned())).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferralClaimRequest {
    /// The code of the link the shopper came by (kept by the storefront's loader).
    code: String,
    /// The loader's random id of this browser, for the fraud checks.
    #[serde(default)]
    device: Option<String>,
}

#[derive(serde::Serialize)]
struct ReferralClaimed {
    /// The code's owner is recorded as the shopper's referrer (pending checks the shopper is
    /// not told about).
    recorded: bool,
}

/// The signed-in shopper came by a referral link: its code is claimed for them, checked, and
/// recorded (approved, or held for the merchant). 201 the first time, 200 on a repeat.
async fn claim_referral(
    State(state): State<AppState>,
    Extension(program): Extension<Program>,
    Extension(client): Extension<ClientInfo>,
    Shopper(claims): Shopper,
    body: ApiJson<ReferralClaimRequest>,
) -> Result<Response, Problem> {
    let claim = ReferralClaim {
        referred: claims.customer_id,
        email: claims.email,
        code: body.value.code,
        channel: "widget",
        address: Some(client.ip),
        device: body.value.device,
    };
    let (_, repeated) = state.points.claim_referral(&program, &claim).await?;
    let status = if repeated { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(ReferralClaimed { recorded: true })).into_response())
}

/// What a storefront's script may read of the widget API's answers: its limits.
const EXPOSED_HEADERS: &str = "retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, ratelimit-policy";

/// The CORS headers are added by the middleware; the preflight itself has no body.
async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// Loads the program named by the publishable key in the path (404 if unknown) and, when the
/// request's `Origin` is on the program's allowlist, adds the CORS headers to the answer.
async fn load_program_with_cors(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Extension(client): Extension<ClientInfo>,
    mut request: Request,
    next: Next,
) -> Result<Response, Problem> {
    // Per client address: behind a trusted proxy, the shopper's own.
    let allowance = match state.widget_limits.per_ip.check(&client.ip.to_string()) {
        Ok(allowance) => allowance,
        Err(refusal) => return Ok(refusal.response()),
    };
    let program = state
        .storage
        .program_by_publishable_key(&key)
        .await?
        .ok_or_else(|| Problem::not_found(format!("No program has the publishable key {key:?}.")))?;
    let allowed_origin = request
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| origin.to_str().is_ok_and(|origin| program.allows_origin(origin)))
        .cloned();
    let is_preflight = request.method() == Method::OPTIONS;
    request.extensions_mut().insert(program);

    let mut response = next.run(request).await.into_response();
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if !headers.contains_key("ratelimit-limit") {
        allowance.add_to(headers);
    }
    if let Some(origin) = allowed_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        if is_preflight {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
            headers
                .insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    Ok(response)
}

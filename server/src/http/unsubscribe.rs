//! `/email/unsubscribe?t=TOKEN`, the link in every message: GET shows a page with one button
//! (link scanners that fetch it unsubscribe nobody), POST unsubscribes at once, which is what
//! mail clients send for `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};
use tally_app::lang::Lang;

use super::AppState;
use crate::{
    customers::CustomerId,
    notifications::unsubscribe::{self, page, page_words},
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/email/unsubscribe", get(show).post(confirm))
}

#[derive(serde::Deserialize)]
struct Link {
    #[serde(default)]
    t: String,
}

/// Who the link is for: the program's name and the customer's language, or `None` for a
/// link that is not ours.
async fn recipient(state: &AppState, token: &str) -> Result<Option<(String, String, String, Lang)>, Response> {
    let Some((program_id, customer_id)) = unsubscribe::verify(&state.unsubscribe_key, token) else { return Ok(None) };
    let unavailable =
        |_| (StatusCode::SERVICE_UNAVAILABLE, "The database did not answer. Try again in a moment.").into_response();
    let Some(program) = state.storage.program_by_id(&program_id).await.map_err(unavailable)? else { return Ok(None) };
    let Ok(id) = CustomerId::parse(&customer_id) else { return Ok(None) };
    let customer = state.storage.customer(&program.id, &id, program.settings.expiry).await.map_err(unavailable)?;
    let language = customer.and_then(|customer| customer.profile.language);
    let lang = program.settings.notifications.lang_for(language.as_deref());
    Ok(Some((program.id, program.name, customer_id, lang)))
}

fn invalid() -> Response {
    let lang = Lang::En;
    (StatusCode::BAD_REQUEST, Html(page(lang, "", page_words(lang).invalid, None))).into_response()
}

async fn show(State(state): State<AppState>, Query(link): Query<Link>) -> Response {
    match recipient(&state, &link.t).await {
        Err(response) => response,
        Ok(None) => invalid(),
        Ok(Some((program_id, program_name, customer_id, lang))) => {
            let words = page_words(lang);
            let done = state.storage.unsubscribed_at(&program_id, &customer_id).await.ok().flatten().is_some();
            let action = format!("/email/unsubscribe?t={}", link.t);
            let body = if done {
                page(lang, &program_name, words.done, None)
            } else {
                page(lang, &program_name, words.question, Some(&action))
            };
            Html(body).into_response()
        }
    }
}

async fn confirm(State(state): State<AppState>, Query(link): Query<Link>) -> Response {
    match recipient(&state, &link.t).await {
        Err(response) => response,
        Ok(None) => invalid(),
        Ok(Some((program_id, program_name, customer_id, lang))) => {
            match state.storage.unsubscribe(&program_id, &customer_id, state.clock.now()).await {
                Ok(_) => {
                    tracing::info!(program = %program_id, "a customer unsubscribed from emails");
                    Html(page(lang, &program_name, page_words(lang).done, None)).into_response()
                }
                Err(error) => {
                    tracing::error!(%error, "an unsubscribe could not be recorded");
                    (StatusCode::SERVICE_UNAVAILABLE, "The database did not answer. Try again in a moment.")
                        .into_response()
                }
            }
        }
    }
}

//! Calls to the Tally server's widget API.

use gloo_net::http::{Request, Response};
use tally_app::api_types::{CustomerSummary, HistoryPage, ProgramSummary};
use wasm_bindgen::JsValue;

use crate::decode;

#[derive(Clone)]
pub struct Api {
    base: String,
    program: String,
}

/// Why a signed-in call failed.
pub enum Failure {
    /// The customer token was refused: show the guest view.
    Token(String),
    /// Network or server trouble: offer a retry.
    Unavailable(String),
}

/// The coupon a redemption issued.
#[derive(Clone)]
pub struct Redeemed {
    pub code: String,
    pub expires_at: String,
}

impl Api {
    pub fn new(base: String, program: String) -> Self {
        Self { base, program }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/widget/v1/programs/{}{path}", self.base, self.program)
    }

    pub async fn summary(&self) -> Result<ProgramSummary, Failure> {
        let response = Request::get(&self.url("")).send().await.map_err(unavailable)?;
        parse(response, decode::program_summary).await
    }

    pub async fn me(&self, token: &str) -> Result<CustomerSummary, Failure> {
        let request = Request::get(&self.url("/me")).header("Authorization", &format!("Bearer {token}"));
        parse(request.send().await.map_err(unavailable)?, decode::customer_summary).await
    }

    /// A page of the shopper's history, newest first; `cursor` from the previous page.
    pub async fn history(&self, token: &str, cursor: Option<u64>) -> Result<HistoryPage, Failure> {
        let path = match cursor {
            Some(cursor) => format!("/me/history?cursor={cursor}"),
            None => "/me/history".to_owned(),
        };
        let request = Request::get(&self.url(&path)).header("Authorization", &format!("Bearer {token}"));
        parse(request.send().await.map_err(unavailable)?, decode::history_page).await
    }

    pub async fn redeem(&self, token: &str, reward_id: &str, redemption_id: &str) -> Result<Redeemed, Failure> {
        let body = format!(r#"{{"redemption_id":{},"reward_id":{}}}"#, quoted(redemption_id), quoted(reward_id));
        let request = Request::post(&self.url("/me/redemptions"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(body)
            .map_err(unavailable)?;
        let (code, expires_at) = parse(request.send().await.map_err(unavailable)?, decode::issued_coupon).await?;
        Ok(Redeemed { code, expires_at })
    }
}

fn unavailable(error: gloo_net::Error) -> Failure {
    Failure::Unavailable(error.to_string())
}

/// JSON through the browser's own parser: smaller than compiling a JSON parser into the widget.
async fn json(response: Response) -> Result<JsValue, Failure> {
    let text = response.text().await.map_err(unavailable)?;
    js_sys::JSON::parse(&text).map_err(|_| Failure::Unavailable("the answer is not JSON".into()))
}

async fn parse<T>(response: Response, read: impl Fn(&JsValue) -> Option<T>) -> Result<T, Failure> {
    if response.ok() {
        let value = json(response).await?;
        return read(&value).ok_or_else(|| Failure::Unavailable("the answer has an unexpected shape".into()));
    }
    let status = response.status();
    let detail = json(response).await.ok().and_then(|value| decode::problem_detail(&value)).unwrap_or_default();
    if status == 401 {
        Err(Failure::Token(detail))
    } else {
        Err(Failure::Unavailable(format!("{status} {detail}")))
    }
}

/// A JSON string literal.
fn quoted(text: &str) -> String {
    js_sys::JSON::stringify(&text.into()).map(String::from).unwrap_or_default()
}

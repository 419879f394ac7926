//! Calls to the Tally server's widget API, through the browser's own `fetch` and `JSON.parse`:
//! a Rust HTTP client or JSON parser would only add weight to the bundle.

use tally_app::api_types::{CustomerSummary, HistoryPage, ProgramSummary};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

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

    /// `path` under this program's widget API; `token` signs the shopper in; `body` makes it a POST.
    async fn call(&self, path: &str, token: Option<&str>, body: Option<String>) -> Result<Response, Failure> {
        let url = format!("{}/widget/v1/programs/{}{path}", self.base, self.program);
        let init = RequestInit::new();
        let headers = js_sys::Object::new();
        if let Some(token) = token {
            let _ = js_sys::Reflect::set(&headers, &"Authorization".into(), &format!("Bearer {token}").into());
        }
        if let Some(body) = body {
            init.set_method("POST");
            let _ = js_sys::Reflect::set(&headers, &"Content-Type".into(), &"application/json".into());
            init.set_body(&body.into());
        }
        init.set_headers(&headers);
        let window = web_sys::window().ok_or_else(|| Failure::Unavailable("no window".into()))?;
        let response = JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await.map_err(unavailable)?;
        response.dyn_into().map_err(unavailable)
    }

    pub async fn summary(&self) -> Result<ProgramSummary, Failure> {
        parse(self.call("", None, None).await?, decode::program_summary).await
    }

    pub async fn me(&self, token: &str) -> Result<CustomerSummary, Failure> {
        parse(self.call("/me", Some(token), None).await?, decode::customer_summary).await
    }

    /// A page of the shopper's history, newest first; `cursor` from the previous page.
    pub async fn history(&self, token: &str, cursor: Option<u64>) -> Result<HistoryPage, Failure> {
        let path = match cursor {
            Some(cursor) => format!("/me/history?cursor={cursor}"),
            None => "/me/history".to_owned(),
        };
        parse(self.call(&path, Some(token), None).await?, decode::history_page).await
    }

    pub async fn redeem(&self, token: &str, reward_id: &str, redemption_id: &str) -> Result<Redeemed, Failure> {
        let body = format!(r#"{{"redemption_id":{},"reward_id":{}}}"#, quoted(redemption_id), quoted(reward_id));
        let response = self.call("/me/redemptions", Some(token), Some(body)).await?;
        let (code, expires_at) = parse(response, decode::issued_coupon).await?;
        Ok(Redeemed { code, expires_at })
    }
}

/// A rejected promise or a value of the wrong type: the browser's message, for the console.
fn unavailable(error: JsValue) -> Failure {
    let message = js_sys::Reflect::get(&error, &"message".into()).ok().and_then(|message| message.as_string());
    Failure::Unavailable(message.unwrap_or_else(|| "network error".into()))
}

async fn json(response: &Response) -> Result<JsValue, Failure> {
    let parsing = response.json().map_err(unavailable)?;
    JsFuture::from(parsing).await.map_err(|_| Failure::Unavailable("the answer is not JSON".into()))
}

async fn parse<T>(response: Response, read: impl Fn(&JsValue) -> Option<T>) -> Result<T, Failure> {
    if response.ok() {
        let value = json(&response).await?;
        return read(&value).ok_or_else(|| Failure::Unavailable("the answer has an unexpected shape".into()));
    }
    let status = response.status();
    let detail = json(&response).await.ok().and_then(|value| decode::problem_detail(&value)).unwrap_or_default();
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

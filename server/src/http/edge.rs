//! The outermost layers, which every request passes: ids and queries with control characters
//! are refused before any handler (PostgreSQL cannot even store a NUL), every error answer is
//! an `application/problem+json` whatever produced it (the router's 404 and 405, extractor
//! rejections, static files, malformed console calls), and a handler's panic becomes a logged
//! 500 problem instead of a dropped connection.

use std::any::Any;

use axum::{
    body::{to_bytes, Body},
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::problem::Problem;

/// Error bodies longer than this are not quoted in the problem that replaces them.
const QUOTED_ERROR_BYTES: usize = 1_000;

/// Paths and query strings, percent-decoded, must hold no control characters: no id, name or
/// parameter of Tally's has one. The console's calls (forms or JSON) may carry tabs and
/// newlines in text, nothing else below a space; the REST API's bodies are checked as they
/// are parsed (`ApiJson`).
async fn refuse_control_characters(request: Request) -> Result<Request, Response> {
    let uri = request.uri();
    let decoded = |text: &str| percent_decoded(text).is_some_and(|bytes| bytes.iter().any(u8::is_ascii_control));
    if decoded(uri.path()) || uri.query().is_some_and(decoded) {
        return Err(control_characters("Paths and query parameters must not contain control characters."));
    }
    if !(request.method() == axum::http::Method::POST && uri.path().starts_with("/admin/fn/")) {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, super::MAX_BODY_BYTES).await else {
        let problem =
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "Body too large", "The body is too large.");
        return Err(problem.into_response());
    };
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.to_str().is_ok_and(|value| value.starts_with("application/x-www-form-urlencoded")));
    let refused = if form {
        let plus_as_space: Vec<u8> = bytes.iter().map(|&byte| if byte == b'+' { b' ' } else { byte }).collect();
        percent_decoded(&String::from_utf8_lossy(&plus_as_space)).is_some_and(|text| {
            text.iter().any(|&byte| byte.is_ascii_control() && !matches!(byte, b'\t' | b'\n' | b'\r'))
        })
    } else {
        super::api::control_character_field(&bytes).is_some()
    };
    if refused {
        return Err(control_characters("Text must not contain control characters (tab and newline aside)."));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn control_characters(detail: &str) -> Response {
    Problem::new(StatusCode::BAD_REQUEST, "control_characters", "Control characters", detail).into_response()
}

/// The bytes a percent-encoded text stands for; `None` when an escape is malformed (the router
/// answers those).
fn percent_decoded(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    Some(decoded)
}

/// The edge of every request: refused when it carries control characters, its error answer
/// made a problem. One middleware, so that a request pays for one.
pub async fn edge(request: Request, next: Next) -> Response {
    match refuse_control_characters(request).await {
        Ok(request) => as_problem(next.run(request).await).await,
        Err(refusal) => refusal,
    }
}

/// Replaces an error answer that is not a problem (nor a console page) by a problem of the
/// same status, quoting what it said.
async fn as_problem(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
    if content_type.starts_with("application/problem+json") || content_type.starts_with("text/html") {
        return response;
    }
    let server_fn = response.headers().contains_key("serverfnerror");
    let (parts, body) = response.into_parts();
    let text = match to_bytes(body, QUOTED_ERROR_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    };
    if server_fn {
        // The console's own refusals (`ServerError|…`) are read by its script: left as they
        // are. What the server function could not even parse is a problem like any other.
        let Some((kind, message)) = text.split_once('|') else { return Response::from_parts(parts, Body::from(text)) };
        let problem = match kind {
            "Args" | "MissingArg" => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "Invalid request", message)
            }
            "Deserialization" | "Request" => {
                Problem::new(StatusCode::BAD_REQUEST, "bad_request", "Bad request", message)
            }
            _ => return Response::from_parts(parts, Body::from(text)),
        };
        return problem.into_response();
    }
    let (code, title) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "Bad request"),
        StatusCode::NOT_FOUND => ("not_found", "Not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "Body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "Unsupported media type"),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_request", "Invalid request"),
        status if status.is_server_error() => ("server_error", "Server error"),
        _ => ("request_refused", "Request refused"),
    };
    let detail = match text.trim() {
        "" => status.canonical_reason().unwrap_or("The request was refused.").to_owned(),
        text => text.to_owned(),
    };
    let mut problem = Problem::new(status, code, title, detail).into_response();
    // Keep what the answer said about methods, caching and retries.
    for name in [header::ALLOW, header::RETRY_AFTER, header::CACHE_CONTROL] {
        if let Some(value) = parts.headers.get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}

/// The last resort: a handler that panicked. Logged with its message; the client gets a 500
/// problem and its connection stays open.
pub fn panic_as_problem(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    let mut response = Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "Server error",
        "The server failed to answer this request. It has been logged.",
    )
    .into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    response
}

/// Wraps a router in the edge layers, outermost last (the same for the server and its tests).
pub fn with_edge_layers<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    router
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_as_problem))
        .layer(axum::middleware::from_fn(edge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[test]
    fn percent_decoding_finds_escaped_control_characters() {
        assert_eq!(percent_decoded("/a%00b").as_deref(), Some(&b"/a\0b"[..]));
        assert_eq!(percent_decoded("/%e2%82%ac").as_deref(), Some("/€".as_bytes()));
        assert_eq!(percent_decoded("/%zz"), None);
        assert_eq!(percent_decoded("/%4"), None);
    }

    /// A real listener: a panicking handler answers a 500 problem, and the same connection
    /// serves the next request.
    #[tokio::test]
    async fn a_panicking_handler_answers_a_logged_problem() {
        let router = axum::Router::new()
            .route("/boom", get(|| async { panic!("injected panic") as &'static str }))
            .route("/fine", get(|| async { "fine" }));
        let router = with_edge_layers(router);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let client = reqwest::Client::new();
        let response = client.get(format!("http://{addr}/boom")).send().await.unwrap();
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "server_error");
        let fine = client.get(format!("http://{addr}/fine")).send().await.unwrap();
        assert_eq!(fine.text().await.unwrap(), "fine");
        let missing = client.get(format!("http://{addr}/nothing%00here")).send().await.unwrap();
        assert_eq!(
            (missing.status().as_u16(), missing.headers()["content-type"].to_str().unwrap()),
            (400, "application/problem+json")
        );
    }
}

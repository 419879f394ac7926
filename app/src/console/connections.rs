//! Connections: the stores that report orders, refunds and customers by their own webhooks
//! (the URL and secret to paste, what each topic's last delivery did), and the signed webhooks
//! that tell the merchant's other systems what happened (deliveries, test, resend).

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    i18n::{t, tr, trf},
    loaded_page,
    model::{ConnectionsBoard, EndpointRow, StoreCouponRow, StoreRow},
    short_time, ProgramNav, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::ConsoleError;

/// The connections page's calls; every change needs a writer (owner or admin) and is audited.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait ConnectionsConsole: Send + Sync {
    /// `request_origin`: where this request came to, for webhook URLs when no public URL is set.
    async fn connections(
        &self,
        session: Option<&str>,
        program_id: &str,
        request_origin: Option<String>,
    ) -> Result<ConnectionsBoard, ConsoleError>;
    /// A new store connection of `platform` (`woocommerce` or `shopify`).
    async fn connect_store(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        platform: &str,
    ) -> Result<(), ConsoleError>;
    /// The signing key the store shows (Shopify).
    async fn set_store_secret(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        connection_id: &str,
        secret: &str,
    ) -> Result<(), ConsoleError>;
    async fn remove_store(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        connection_id: &str,
    ) -> Result<(), ConsoleError>;
    /// The store's API for checkout-native coupons. `action`: `save` (with `url`, `key` for
    /// WooCommerce, `secret`), `remove`, or `retry` (the failed coupons again).
    #[allow(clippy::too_many_arguments)]
    async fn store_api(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        connection_id: &str,
        action: &str,
        url: &str,
        key: &str,
        secret: &str,
    ) -> Result<(), ConsoleError>;
    /// A new webhook endpoint; `event_types` empty for every type.
    async fn add_endpoint(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        url: &str,
        event_types: Vec<String>,
    ) -> Result<(), ConsoleError>;
    /// `action`: `test` (send a test event), `resend` (failed deliveries again) or `remove`.
    async fn endpoint_action(
        &self,
        session: Option<&str>,
        program_id: &str,
        csrf: &str,
        endpoint_id: &str,
        action: &str,
    ) -> Result<(), ConsoleError>;
}

#[server(prefix = "/admin/fn", endpoint = "connections")]
pub async fn load_connections(program: String) -> Result<ConnectionsBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    let origin = use_context::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(http::header::HOST)?.to_str().ok().map(|host| format!("http://{host}")));
    backend.connections(session.as_deref(), &program, origin).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "connect_store")]
pub async fn connect_store(program: String, csrf: String, platform: String) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.connect_store(session.as_deref(), &program, &csrf, &platform).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "set_store_secret")]
pub async fn set_store_secret(
    program: String,
    csrf: String,
    connection_id: String,
    secret: String,
) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.set_store_secret(session.as_deref(), &program, &csrf, &connection_id, &secret).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "remove_store")]
pub async fn remove_store(program: String, csrf: String, connection_id: String) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.remove_store(session.as_deref(), &program, &csrf, &connection_id).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "store_api")]
pub async fn store_api(
    program: String,
    csrf: String,
    connection_id: String,
    action: String,
    #[server(default)] url: String,
    #[server(default)] key: String,
    #[server(default)] secret: String,
) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    backend
        .store_api(session.as_deref(), &program, &csrf, &connection_id, &action, &url, &key, &secret)
        .await
        .map_err(super::fail)
}

/// JSON: the event types are a list.
#[server(prefix = "/admin/fn", endpoint = "add_endpoint", input = leptos::server_fn::codec::Json)]
pub async fn add_endpoint(
    program: String,
    csrf: String,
    url: String,
    #[server(default)] event_types: Vec<String>,
) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.add_endpoint(session.as_deref(), &program, &csrf, &url, event_types).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "endpoint_action")]
pub async fn endpoint_action(
    program: String,
    csrf: String,
    endpoint_id: String,
    action: String,
) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.endpoint_action(session.as_deref(), &program, &csrf, &endpoint_id, &action).await.map_err(super::fail)
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    let params = use_params_map();
    let connect = ServerAction::<ConnectStore>::new();
    let secret = ServerAction::<SetStoreSecret>::new();
    let remove = ServerAction::<RemoveStore>::new();
    let api = ServerAction::<StoreApi>::new();
    let add = ServerAction::<AddEndpoint>::new();
    let act = ServerAction::<EndpointAction>::new();
    let versions = move || {
        [
            connect.version().get(),
            secret.version().get(),
            remove.version().get(),
            api.version().get(),
            add.version().get(),
            act.version().get(),
        ]
    };
    let request = move || (params.get().get("program").unwrap_or_default(), versions());
    let data = Resource::new(request, |(program, _)| load_connections(program));
    let actions = Actions { connect, secret, remove, api, add, act };
    loaded_page(t("Loading…"), data, move |board| view! { <ConnectionsView board actions/> })
}

#[derive(Clone, Copy)]
struct Actions {
    connect: ServerAction<ConnectStore>,
    secret: ServerAction<SetStoreSecret>,
    remove: ServerAction<RemoveStore>,
    api: ServerAction<StoreApi>,
    add: ServerAction<AddEndpoint>,
    act: ServerAction<EndpointAction>,
}

/// The last failed call of any of the page's actions, if the latest one failed.
fn last_error(actions: Actions) -> Option<String> {
    let failed = |value: Option<Result<(), ServerFnError>>| value.and_then(Result::err).map(super::error_message);
    failed(actions.connect.value().get())
        .or_else(|| failed(actions.secret.value().get()))
        .or_else(|| failed(actions.remove.value().get()))
        .or_else(|| failed(actions.api.value().get()))
        .or_else(|| failed(actions.add.value().get()))
        .or_else(|| failed(actions.act.value().get()))
}

fn platform_name(platform: &str) -> &'static str {
    match platform {
        "shopify" => "Shopify",
        _ => "WooCommerce",
    }
}

fn status_name(status: &str) -> &'static str {
    match status {
        "delivered" => tr("delivered"),
        "failed" => tr("failed"),
        "done" => tr("applied"),
        "created" => tr("created in the store"),
        "ignored" => tr("ignored"),
        _ => tr("pending"),
    }
}

#[component]
fn ConnectionsView(board: ConnectionsBoard, actions: Actions) -> impl IntoView {
    let ConnectionsBoard { user, program, stores, endpoints, event_types } = board;
    let can_write = user.role != "viewer";
    let csrf = user.csrf.clone();
    let program_id = program.id.clone();
    let (new_url, new_types) = (RwSignal::new(String::new()), RwSignal::new(Vec::<String>::new()));
    let connect = {
        let (program_id, csrf) = (program_id.clone(), csrf.clone());
        move |platform: &'static str| {
            actions.connect.dispatch(ConnectStore {
                program: program_id.clone(),
                csrf: csrf.clone(),
                platform: platform.into(),
            });
        }
    };
    let add_endpoint = {
        let (program_id, csrf) = (program_id.clone(), csrf.clone());
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            actions.add.dispatch(AddEndpoint {
                program: program_id.clone(),
                csrf: csrf.clone(),
                url: new_url.get_untracked(),
                event_types: new_types.get_untracked(),
            });
        }
    };
    let stores_section = view! {
        <section class="section" aria-labelledby="stores-title">
            <h2 id="stores-title">{tr("Stores")}</h2>
            <p class="muted">{tr("WooCommerce and Shopify report orders, refunds and new customers by their own webhooks: no code on your side.")}</p>
            {can_write.then(|| {
                let (woo, shopify) = (connect.clone(), connect.clone());
                view! {
                    <p>
                        <button class="button primary" data-connect="woocommerce" on:click=move |_| woo("woocommerce")>{tr("Connect WooCommerce")}</button>
                        " "
                        <button class="button primary" data-connect="shopify" on:click=move |_| shopify("shopify")>{tr("Connect Shopify")}</button>
                    </p>
                }
            })}
            {stores.is_empty().then(|| view! { <p class="muted">{tr("No store is connected yet.")}</p> })}
            {stores.into_iter().map(|store| view! {
                <StoreCard store program_id=program_id.clone() csrf=csrf.clone() can_write actions/>
            }.into_any()).collect_view()}
        </section>
    }
    .into_any();
    let webhooks = view! {
        <section class="section" aria-labelledby="webhooks-title">
            <h2 id="webhooks-title">{tr("Webhooks")}</h2>
            <p class="muted">{tr("Tally posts its events to these URLs, signed per the Standard Webhooks specification, and retries a failed delivery for about three days.")}</p>
            {can_write.then(|| view! {
                <form class="form" on:submit=add_endpoint.clone() data-form="endpoint">
                    <label>{tr("Endpoint URL")}
                        <input type="url" required placeholder="https://crm.example.com/tally" prop:value=move || new_url.get()
                            on:input=move |event| new_url.set(event_target_value(&event))/>
                    </label>
                    <fieldset>
                        <legend>{tr("Events (none checked: every event)")}</legend>
                        {event_types.iter().map(|kind| {
                            let kind = kind.clone();
                            let toggled = kind.clone();
                            view! {
                                <label class="check">
                                    <input type="checkbox" value=kind.clone() on:change=move |event| {
                                        let on = event_target_checked(&event);
                                        new_types.update(|types| {
                                            types.retain(|known| *known != toggled);
                                            if on {
                                                types.push(toggled.clone());
                                            }
                                        });
                                    }/>
                                    " " <code>{kind}</code>
                                </label>
                            }
                        }).collect_view()}
                    </fieldset>
                    <button class="button primary" type="submit">{tr("Add endpoint")}</button>
                </form>
            })}
            {endpoints.is_empty().then(|| view! { <p class="muted">{tr("No endpoint yet.")}</p> })}
            {endpoints.into_iter().map(|endpoint| view! {
                <EndpointCard endpoint program_id=program_id.clone() csrf=csrf.clone() can_write actions/>
            }.into_any()).collect_view()}
        </section>
    }
    .into_any();
    view! {
        <TopBar user/>
        <main class="page wide" data-program-id=program.id.clone()>
            <ProgramNav program=program.clone() current="connections"/>
            <h1>{tr("Connections")}</h1>
            {move || last_error(actions).map(|message| view! { <p class="error" role="alert">{message}</p> })}

            {stores_section}
            {webhooks}
        </main>
    }
}

#[component]
fn StoreCard(store: StoreRow, program_id: String, csrf: String, can_write: bool, actions: Actions) -> impl IntoView {
    let key = RwSignal::new(String::new());
    let (id, platform) = (store.id.clone(), store.platform.clone());
    let save_key = {
        let (program_id, csrf, id) = (program_id.clone(), csrf.clone(), id.clone());
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            actions.secret.dispatch(SetStoreSecret {
                program: program_id.clone(),
                csrf: csrf.clone(),
                connection_id: id.clone(),
                secret: key.get_untracked(),
            });
        }
    };
    let remove = {
        let (program_id, csrf) = (program_id.clone(), csrf.clone());
        move |_| {
            let confirmed = window()
                .confirm_with_message(tr("Remove this connection? The store's deliveries will be refused."))
                .unwrap_or(false);
            if confirmed {
                actions.remove.dispatch(RemoveStore {
                    program: program_id.clone(),
                    csrf: csrf.clone(),
                    connection_id: id.clone(),
                });
            }
        }
    };
    let steps = if platform == "shopify" {
        tr("In Shopify: Settings → Notifications → Webhooks → Create webhook, once per topic below, format JSON, with this URL. Then paste the key Shopify signs with here.")
    } else {
        tr("In WooCommerce: Settings → Advanced → Webhooks → Add webhook, once per topic below, status Active, API version WC/v3, with this URL and secret.")
    };
    view! {
        <article class="card store" data-store=store.id.clone() data-platform=platform.clone()>
            <h3>{platform_name(&platform)} " " <code class="muted">{store.id.clone()}</code></h3>
            <p class="muted">{steps}</p>
            <p>{tr("Delivery URL")} ": " <code data-webhook-url="">{store.webhook_url.clone()}</code></p>
            {(can_write && platform != "shopify").then(|| view! {
                <p>{tr("Secret")} ": " <code class="secret" data-store-secret="">{store.secret.clone()}</code></p>
            })}
            <p>{tr("Topics")} ": " {store.topics.iter().map(|topic| view! { <code>{topic.clone()}</code> " " }).collect_view()}</p>
            {(can_write && platform == "shopify").then(|| view! {
                <form class="form inline" on:submit=save_key data-form="store-secret">
                    <label>{tr("Shopify's signing key")}
                        <input type="password" required minlength="16" autocomplete="off"
                            prop:value=move || key.get() on:input=move |event| key.set(event_target_value(&event))/>
                    </label>
                    <button class="button" type="submit">{tr("Save key")}</button>
                </form>
            })}
            <table class="table deliveries">
                <thead><tr><th>{tr("Topic")}</th><th class="num">{tr("Deliveries")}</th><th class="num">{tr("Ignored")}</th><th class="num">{tr("Failed")}</th><th>{tr("Last delivery (UTC)")}</th><th>{tr("What it did")}</th></tr></thead>
                <tbody>
                    {store.deliveries.is_empty().then(|| view! { <tr><td colspan="6" class="muted">{tr("Nothing received yet.")}</td></tr> })}
                    {store.deliveries.into_iter().map(|row| view! {
                        <tr data-topic=row.topic.clone()>
                            <td><code>{row.topic.clone()}</code></td>
                            <td class="num">{row.deliveries}</td>
                            <td class="num">{row.ignored}</td>
                            <td class="num">{row.failed}</td>
                            <td>{short_time(&row.last_received_at)} " · " {status_name(&row.last_status)}</td>
                            <td>{row.last_outcome.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <CheckoutCoupons store_id=store.id.clone() platform=platform.clone() api_url=store.api_url.clone()
                api_key=store.api_key.clone() coupons=store.coupons.clone() program_id=program_id.clone()
                csrf=csrf.clone() can_write actions/>
            {can_write.then(|| view! { <p><button class="button" on:click=remove>{tr("Remove connection")}</button></p> })}
        </article>
    }
    .into_any()
}

/// Checkout-native coupons: the store API form, and the coupons created in the store.
#[component]
#[allow(clippy::too_many_arguments)]
fn CheckoutCoupons(
    store_id: String,
    platform: String,
    api_url: Option<String>,
    api_key: Option<String>,
    coupons: Vec<StoreCouponRow>,
    program_id: String,
    csrf: String,
    can_write: bool,
    actions: Actions,
) -> impl IntoView {
    let woocommerce = platform != "shopify";
    let (url, key, secret) = (
        RwSignal::new(api_url.clone().unwrap_or_default()),
        RwSignal::new(api_key.unwrap_or_default()),
        RwSignal::new(String::new()),
    );
    let dispatch = move |action: &str| {
        actions.api.dispatch(StoreApi {
            program: program_id.clone(),
            csrf: csrf.clone(),
            connection_id: store_id.clone(),
            action: action.to_owned(),
            url: url.get_untracked(),
            key: key.get_untracked(),
            secret: secret.get_untracked(),
        });
    };
    let save = {
        let dispatch = dispatch.clone();
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            dispatch("save");
        }
    };
    let (stop, retry) = (dispatch.clone(), dispatch);
    let steps = if woocommerce {
        tr("In WooCommerce: Settings → Advanced → REST API → Add key, with Read/Write permissions. Paste the consumer key and secret here.")
    } else {
        tr("In Shopify: Settings → Apps and sales channels → Develop apps → Create an app with the write_discounts scope, install it, and paste its Admin API access token here.")
    };
    let connected = api_url.is_some();
    let any_failed = coupons.iter().any(|coupon| coupon.state == "failed");
    view! {
        <section class="checkout-coupons" data-checkout="">
            <h4>{tr("Coupons at the store's checkout")}</h4>
            <p class="muted">{tr("With the store's API, each coupon a shopper redeems is also created in the store, for single use and until it expires, so it works at the store's own checkout.")}</p>
            {api_url.map(|url| view! { <p data-checkout-url="">{trf("Coupons are created in the store at {0}.", &[&url])}</p> })}
            {can_write.then(|| view! {
                <p class="muted">{steps}</p>
                <form class="form inline" on:submit=save data-form="store-api">
                    <label>{tr("Store address")}
                        <input type="text" required placeholder=if woocommerce { "https://shop.example" } else { "my-shop.myshopify.com" }
                            prop:value=move || url.get() on:input=move |event| url.set(event_target_value(&event))/>
                    </label>
                    {woocommerce.then(|| view! {
                        <label>{tr("Consumer key")}
                            <input type="text" required autocomplete="off" name="api_key"
                                prop:value=move || key.get() on:input=move |event| key.set(event_target_value(&event))/>
                        </label>
                    })}
                    <label>{if woocommerce { tr("Consumer secret") } else { tr("Admin API access token") }}
                        <input type="password" required autocomplete="off" name="api_secret"
                            prop:value=move || secret.get() on:input=move |event| secret.set(event_target_value(&event))/>
                    </label>
                    <button class="button" type="submit">{tr("Save store API")}</button>
                </form>
                {connected.then(|| view! {
                    <p><button class="button secondary" on:click=move |_| stop("remove")>{tr("Stop creating coupons in the store")}</button></p>
                })}
            }.into_any())}
            {connected.then(|| view! {
                <table class="table store-coupons">
                    <thead><tr><th>{tr("Code")}</th><th>{tr("Status")}</th><th class="num">{tr("Attempts")}</th><th>{tr("Last error")}</th><th>{tr("Last attempt (UTC)")}</th></tr></thead>
                    <tbody>
                        {coupons.is_empty().then(|| view! { <tr><td colspan="5" class="muted">{tr("No coupons created in the store yet.")}</td></tr> })}
                        {coupons.into_iter().map(|coupon| view! {
                            <tr data-store-coupon=coupon.code.clone() data-state=coupon.state.clone()>
                                <td><code>{coupon.code.clone()}</code></td>
                                <td>{status_name(&coupon.state)}</td>
                                <td class="num">{coupon.attempts}</td>
                                <td>{coupon.last_error.clone().unwrap_or_default()}</td>
                                <td>{short_time(&coupon.updated_at)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any())}
            {(can_write && any_failed).then(|| view! {
                <p><button class="button" on:click=move |_| retry("retry")>{tr("Retry failed coupons")}</button></p>
            })}
        </section>
    }
    .into_any()
}

#[component]
fn EndpointCard(
    endpoint: EndpointRow,
    program_id: String,
    csrf: String,
    can_write: bool,
    actions: Actions,
) -> impl IntoView {
    let act = {
        let (program_id, csrf, id) = (program_id.clone(), csrf.clone(), endpoint.id.clone());
        move |action: &'static str| {
            if action == "remove"
                && !window().confirm_with_message(tr("Remove this endpoint and its deliveries?")).unwrap_or(false)
            {
                return;
            }
            actions.act.dispatch(EndpointAction {
                program: program_id.clone(),
                csrf: csrf.clone(),
                endpoint_id: id.clone(),
                action: action.into(),
            });
        }
    };
    let types =
        if endpoint.event_types.is_empty() { tr("every event").to_owned() } else { endpoint.event_types.join(", ") };
    view! {
        <article class="card endpoint" data-endpoint=endpoint.id.clone()>
            <h3><code>{endpoint.url.clone()}</code></h3>
            <p class="muted">{types}</p>
            {endpoint.failing_since.as_deref().map(|since| view! {
                <p class="error" role="status">{trf("Failing since {0}: deliveries gave up after their retries.", &[&short_time(since)])}</p>
            })}
            {can_write.then(|| {
                let (test, resend, remove) = (act.clone(), act.clone(), act.clone());
                view! {
                    <p>
                        <button class="button" data-action="test" on:click=move |_| test("test")>{tr("Send test event")}</button>
                        " "
                        <button class="button" data-action="resend" on:click=move |_| resend("resend")>{tr("Resend failed")}</button>
                        " "
                        <button class="button" data-action="remove" on:click=move |_| remove("remove")>{tr("Remove")}</button>
                    </p>
                }
            })}
            <table class="table deliveries">
                <thead><tr><th>{tr("When (UTC)")}</th><th>{tr("Event")}</th><th>{tr("Status")}</th><th class="num">{tr("Attempts")}</th><th>{tr("Response")}</th><th class="num">{tr("Latency (ms)")}</th><th>{tr("Last error")}</th></tr></thead>
                <tbody>
                    {endpoint.deliveries.is_empty().then(|| view! { <tr><td colspan="7" class="muted">{tr("Nothing sent yet.")}</td></tr> })}
                    {endpoint.deliveries.into_iter().map(|row| view! {
                        <tr data-delivery=row.id.to_string() data-status=row.status.clone()>
                            <td>{short_time(&row.created_at)}</td>
                            <td><code>{row.event_type.clone()}</code></td>
                            <td>{status_name(&row.status)}</td>
                            <td class="num">{row.attempts}</td>
                            <td>{row.response_status.map(|status| status.to_string()).unwrap_or_default()}</td>
                            <td class="num">{row.latency_ms.map(|ms| ms.to_string()).unwrap_or_default()}</td>
                            <td>{row.last_error.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </article>
    }
    .into_any()
}

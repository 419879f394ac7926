use std::cell::RefCell;

use leptos::{ev::KeyboardEvent, html, prelude::*};
use tally_app::api_types::{
    Branding, CouponSummary, CustomerSummary, HistoryEntry, ProgramSummary, ReferralLink, RewardSummary,
};
use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use web_sys::{HtmlElement, ShadowRoot};

use crate::{
    api::{Api, Failure, Redeemed},
    i18n::{Locale, Text},
};

/// Styles live inside the shadow root: the host page's CSS cannot reach them, nor they it.
const STYLES: &str = include_str!("../../style/widget.css");

/// What the page's `window.Tally` controls.
#[derive(Clone, Copy)]
struct Controls {
    open: RwSignal<bool>,
    token: RwSignal<Option<String>>,
}

thread_local! {
    static CONTROLS: RefCell<Option<Controls>> = const { RefCell::new(None) };
}

/// Called by `/widget.js` once the WASM is instantiated. `api_base` is the Tally server's
/// origin, `program` the publishable key.
#[wasm_bindgen]
pub fn mount(root: ShadowRoot, program: String, api_base: String, token: Option<String>, locale: Option<String>) {
    let document = document();
    let Ok(style) = document.create_element("style") else { return };
    style.set_text_content(Some(STYLES));
    let Ok(container) = document.create_element("div") else { return };
    container.set_class_name("tally-root");
    if root.append_child(&style).is_err() || root.append_child(&container).is_err() {
        web_sys::console::error_1(&"[tally] could not attach the widget to its shadow root".into());
        return;
    }
    let container: HtmlElement = container.unchecked_into();
    let locale = Locale::pick(locale.as_deref());
    let api = Api::new(api_base, program);
    let token = token.filter(|token| !token.is_empty());
    let host = root.host();
    let frame = container.clone();
    // The widget lives as long as the page: keep it mounted.
    leptos::mount::mount_to(container, move || {
        let controls = Controls { open: RwSignal::new(false), token: RwSignal::new(token) };
        CONTROLS.with(|slot| *slot.borrow_mut() = Some(controls));
        let branding = RwSignal::new(None::<Branding>);
        Effect::new(move |_| {
            if let Some(branding) = branding.get() {
                apply_branding(&branding, &host, &frame);
            }
        });
        view! { <Widget api locale controls branding/> }
    })
    .forget();
}

/// The program's colour and launcher corner. The colour goes in `--tally-brand`, below the
/// merchant's own `--tally-primary` (see widget.css); the corner is an attribute of the host
/// element that `:host([data-position])` rules read.
fn apply_branding(branding: &Branding, host: &web_sys::Element, frame: &HtmlElement) {
    let style = frame.style();
    if let (Some(color), Some(on_color)) = (&branding.primary_color, &branding.on_primary_color) {
        let _ = style.set_property("--tally-brand", color);
        let _ = style.set_property("--tally-on-brand", on_color);
    }
    let _ = host.set_attribute("data-position", &branding.launcher_position);
}

fn with_controls(action: impl FnOnce(Controls)) {
    if let Some(controls) = CONTROLS.with(|slot| *slot.borrow()) {
        action(controls);
    }
}

#[wasm_bindgen]
pub fn open() {
    with_controls(|controls| controls.open.set(true));
}

#[wasm_bindgen]
pub fn close() {
    with_controls(|controls| controls.open.set(false));
}

/// A new customer token (after the shopper signs in), or `None` to show the guest view.
#[wasm_bindgen]
pub fn set_customer_token(token: Option<String>) {
    with_controls(|controls| controls.token.set(token.filter(|token| !token.is_empty())));
}

/// What a panel shows while and after loading.
#[derive(Clone)]
enum Load<T> {
    Loading,
    Ready(T),
    Failed,
}

#[derive(Clone)]
struct Loaded {
    program: ProgramSummary,
    /// `None` for guests (no token, or a token the server refused).
    me: Option<CustomerSummary>,
}

async fn load(api: &Api, token: Option<String>) -> Load<Loaded> {
    let program = match api.summary().await {
        Ok(program) => program,
        Err(Failure::Token(detail) | Failure::Unavailable(detail)) => {
            web_sys::console::warn_1(&format!("[tally] could not load the program: {detail}").into());
            return Load::Failed;
        }
    };
    let me = match token {
        None => None,
        Some(token) => match api.me(&token).await {
            Ok(me) => Some(me),
            Err(Failure::Token(detail)) => {
                web_sys::console::warn_1(
                    &format!("[tally] customer token refused, showing the guest view: {detail}").into(),
                );
                None
            }
            Err(Failure::Unavailable(detail)) => {
                web_sys::console::warn_1(&format!("[tally] could not load the customer: {detail}").into());
                return Load::Failed;
            }
        },
    };
    Load::Ready(Loaded { program, me })
}

#[component]
fn Widget(api: Api, locale: Locale, controls: Controls, branding: RwSignal<Option<Branding>>) -> impl IntoView {
    let state = RwSignal::new(Load::Loading);
    // The last coupon issued: kept here so that it stays on screen when the balances reload.
    let issued = RwSignal::new(None::<Redeemed>);
    let reload = {
        let api = api.clone();
        move || {
            let api = api.clone();
            let token = controls.token.get_untracked();
            leptos::task::spawn_local(async move {
                let loaded = load(&api, token).await;
                match &loaded {
                    Load::Ready(loaded) => branding.set(Some(loaded.program.branding.clone())),
                    _ if branding.get_untracked().is_none() => branding.set(Some(Branding::default())),
                    _ => {}
                }
                state.set(loaded);
            });
        }
    };
    // Loads at start and whenever the page sets another customer token.
    Effect::new({
        let reload = reload.clone();
        move |_| {
            controls.token.track();
            issued.set(None);
            state.set(Load::Loading);
            reload();
        }
    });
    let launcher = NodeRef::<html::Button>::new();
    let close_button = NodeRef::<html::Button>::new();
    // Focus follows the panel: into it when it opens, back to the launcher when it closes.
    Effect::new(move |was_open: Option<bool>| {
        let is_open = controls.open.get();
        if is_open {
            if let Some(button) = close_button.get() {
                let _ = button.focus();
            }
        } else if was_open == Some(true) {
            if let Some(button) = launcher.get() {
                let _ = button.focus();
            }
        }
        is_open
    });
    let on_keydown = move |event: KeyboardEvent| match event.key().as_str() {
        "Escape" => controls.open.set(false),
        "Tab" => keep_focus_inside(&event),
        _ => {}
    };

    view! {
        // Hidden until the program's branding is known, so that it never jumps corners or labels.
        <button
            class="launcher"
            node_ref=launcher
            hidden=move || branding.with(Option::is_none)
            aria-haspopup="dialog"
            aria-expanded=move || controls.open.get().to_string()
            aria-controls="tally-panel"
            on:click=move |_| controls.open.update(|open| *open = !*open)
        >
            {move || branding.with(|branding| {
                branding.as_ref().and_then(|branding| branding.launcher_label.clone())
            }).unwrap_or_else(|| locale.text(Text::Launcher).to_owned())}
        </button>
        <section
            id="tally-panel"
            class="panel"
            role="dialog"
            aria-modal="true"
            aria-label=locale.text(Text::Launcher)
            hidden=move || !controls.open.get()
            on:keydown=on_keydown
        >
            <header class="panel-head">
                <h2 class="title">
                    {move || match state.get() {
                        Load::Ready(loaded) => loaded.program.name,
                        _ => locale.text(Text::Launcher).to_owned(),
                    }}
                </h2>
                <button class="close" node_ref=close_button aria-label=locale.text(Text::Close)
                    on:click=move |_| controls.open.set(false)>"×"</button>
            </header>
            <div class="panel-body" aria-live="polite">
                {move || match state.get() {
                    Load::Loading => view! { <div class="skeleton" aria-busy="true"></div> }.into_any(),
                    Load::Failed => {
                        let retry = reload.clone();
                        view! {
                            <p class="error" role="alert">{locale.text(Text::Unavailable)}</p>
                            <button class="button" on:click=move |_| { state.set(Load::Loading); retry() }>
                                {locale.text(Text::TryAgain)}
                            </button>
                        }.into_any()
                    }
                    Load::Ready(Loaded { program, me: None }) => view! { <Guest program locale/> }.into_any(),
                    Load::Ready(Loaded { program, me: Some(me) }) => {
                        view! { <Member program me locale api=api.clone() controls state issued/> }.into_any()
                    }
                }}
            </div>
        </section>
    }
}

/// Tab and Shift+Tab cycle through the panel's controls instead of leaving it.
fn keep_focus_inside(event: &KeyboardEvent) {
    let Some(panel) = event.current_target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()) else {
        return;
    };
    let Ok(focusable) = panel.query_selector_all("button:not([disabled]), a[href]") else { return };
    let (Some(first), Some(last)) = (focusable.item(0), focusable.item(focusable.length().saturating_sub(1))) else {
        return;
    };
    let active = panel.get_root_node().dyn_into::<ShadowRoot>().ok().and_then(|root| root.active_element());
    let at = |node: &web_sys::Node| active.as_ref().is_some_and(|active| active.is_same_node(Some(node)));
    let target = if event.shift_key() && at(&first) {
        last
    } else if !event.shift_key() && at(&last) {
        first
    } else {
        return;
    };
    event.prevent_default();
    if let Ok(element) = target.dyn_into::<HtmlElement>() {
        let _ = element.focus();
    }
}

#[component]
fn Guest(program: ProgramSummary, locale: Locale) -> impl IntoView {
    let points_name = program.points_name.clone();
    let Branding { join_url, sign_in_url, .. } = program.branding.clone();
    let (no_join, no_sign_in) = (join_url.is_none(), sign_in_url.is_none());
    view! {
        <p class="lead">{locale.text(Text::GuestLead)}</p>
        // Always rendered, hidden when unset: one shape of view costs less WASM than optional ones.
        <p class="join" hidden=no_join && no_sign_in>
            <a class="button" hidden=no_join href=join_url.unwrap_or_default()>{locale.text(Text::Join)}</a>
            <a class="link" hidden=no_sign_in href=sign_in_url.unwrap_or_default()>{locale.text(Text::SignIn)}</a>
        </p>
        <WaysToEarn program=program.clone() locale/>
        <h3 class="section">{locale.text(Text::RewardsTitle)}</h3>
        <ul class="list">
            {program.rewards.into_iter().map(|reward| view! {
                <li class="row">
                    <span>{reward.name}</span>
                    <span class="muted">{locale.number(reward.points)} " " {points_name.clone()}</span>
                </li>
            }).collect_view()}
        </ul>
    }
}

#[component]
fn WaysToEarn(program: ProgramSummary, locale: Locale) -> impl IntoView {
    let currency = program.currency.clone();
    let points_name = program.points_name.clone();
    view! {
        <h3 class="section">{locale.text(Text::WaysToEarn)}</h3>
        <ul class="list">
            {program.ways_to_earn.into_iter().map(|way| {
                let amount = way.per_amount.map(|amount| {
                    format!(" {} {}", locale.text(Text::PerPurchase), locale.money(amount, &currency))
                });
                view! {
                    <li class="row">
                        <span>{locale.action(&way.action)}</span>
                        <span class="muted">
                            {locale.number(way.points)} " " {points_name.clone()} {amount}
                        </span>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

#[component]
fn Member(
    program: ProgramSummary,
    me: CustomerSummary,
    locale: Locale,
    api: Api,
    controls: Controls,
    state: RwSignal<Load<Loaded>>,
    issued: RwSignal<Option<Redeemed>>,
) -> impl IntoView {
    let points_name = program.points_name.clone();
    let available = me.available;
    let coupons = me.coupons.clone();
    watch_checkout(&me, &api, controls, state);
    let progress = me.next_tier.as_ref().map(|next| {
        let missing = me.to_next_tier.unwrap_or(0);
        let percent =
            if next.threshold > 0 { (100 * (next.threshold - missing) / next.threshold).clamp(0, 100) } else { 100 };
        (next.name.clone(), missing, percent)
    });
    // What the next tier gives (or, at the top, what this one gives).
    let perks = me.next_tier.as_ref().or(me.tier.as_ref()).map(|tier| tier.benefits.clone()).unwrap_or_default();
    let no_perks = perks.is_empty();
    view! {
        <div class="balance">
            <span class="balance-points">{locale.number(available)}</span>
            <span class="muted">" " {points_name.clone()} " " {locale.text(Text::Available)}</span>
        </div>
        {(me.pending > 0).then(|| view! {
            <p class="muted pending">{locale.number(me.pending)} " " {locale.text(Text::Pending)}</p>
        })}
        {(me.expiring_soon > 0).then(|| view! {
            <p class="warning" role="note">{locale.number(me.expiring_soon)} " " {points_name.clone()} " " {locale.text(Text::ExpiringSoon)}</p>
        })}
        {me.tier.as_ref().map(|tier| view! { <p class="tier-badge">{tier.name.clone()}</p> })}
        {progress.map(|(name, missing, percent)| view! {
            <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=percent.to_string()>
                <div class="progress-fill" style=format!("width: {percent}%")></div>
            </div>
            <p class="muted">{locale.number(missing)} " " {locale.text(Text::ToNextTier)} " " {name}</p>
        })}
        <p class="perks" hidden=no_perks>{perks}</p>
        {move || issued.get().map(|redeemed| {
            let checkout = coupons.iter().find(|coupon| coupon.code == redeemed.code).and_then(|coupon| coupon.checkout.clone());
            view! { <CouponCode redeemed checkout locale/> }
        })}
        <h3 class="section">{locale.text(Text::RewardsTitle)}</h3>
        <ul class="list">
            {program.rewards.clone().into_iter().map(|reward| view! {
                <RewardRow reward available locale points_name=points_name.clone() api=api.clone() controls state issued/>
            }).collect_view()}
        </ul>
        <MyCoupons coupons=me.coupons.clone() locale/>
        {me.referral.clone().map(|link| view! { <ReferFriend link program=program.clone() locale/> })}
        <History api locale controls/>
        <WaysToEarn program locale/>
    }
}

/// Coupons the shopper can still use, with their expiry.
#[component]
fn MyCoupons(coupons: Vec<CouponSummary>, locale: Locale) -> impl IntoView {
    let usable: Vec<CouponSummary> = coupons.into_iter().filter(|coupon| coupon.usable).collect();
    (!usable.is_empty()).then(|| {
        view! {
            <h3 class="section">{locale.text(Text::MyCoupons)}</h3>
            <ul class="list coupons">
                {usable.into_iter().map(|coupon| view! {
                    <li class="row">
                        <span class="code">{coupon.code}</span>
                        <span class="muted">{locale.text(Text::Expires)} " " {locale.date(&coupon.expires_at)}</span>
                        {checkout_note(coupon.checkout.as_deref(), locale)}
                    </li>
                }).collect_view()}
            </ul>
        }
    })
}

/// The shopper's points history, loaded on demand, page by page.
#[component]
fn History(api: Api, locale: Locale, controls: Controls) -> impl IntoView {
    let entries = RwSignal::new(Vec::<HistoryEntry>::new());
    let next = RwSignal::new(None::<u64>);
    let opened = RwSignal::new(false);
    let load_page = move |cursor: Option<u64>| {
        let api = api.clone();
        let Some(token) = controls.token.get_untracked() else { return };
        leptos::task::spawn_local(async move {
            match api.history(&token, cursor).await {
                Ok(page) => {
                    entries.update(|entries| entries.extend(page.entries));
                    next.set(page.next_cursor);
                    opened.set(true);
                }
                Err(Failure::Token(detail) | Failure::Unavailable(detail)) => {
                    web_sys::console::warn_1(&format!("[tally] could not load the history: {detail}").into());
                }
            }
        });
    };
    let first_page = load_page.clone();
    view! {
        <h3 class="section">{locale.text(Text::History)}</h3>
        <Show
            when=move || opened.get()
            fallback=move || {
                let first_page = first_page.clone();
                view! { <button class="button secondary" on:click=move |_| first_page(None)>{locale.text(Text::History)}</button> }
            }
        >
            <ul class="list history">
                {move || entries.get().into_iter().map(|entry| {
                    let sign = if entry.points > 0 { "+" } else { "" };
                    view! {
                        <li class="row" class:pending=entry.pending>
                            <span>{locale.action(&entry.source)} <span class="muted">" · " {locale.date(&entry.created_at)}</span></span>
                            <span class="points">{sign} {locale.number(entry.points)}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
            {
                let load_page = load_page.clone();
                move || next.get().map(|cursor| {
                    let load_page = load_page.clone();
                    view! { <button class="button secondary" on:click=move |_| load_page(Some(cursor))>{locale.text(Text::ShowMore)}</button> }
                })
            }
        </Show>
    }
}

#[component]
fn RewardRow(
    reward: RewardSummary,
    available: i64,
    locale: Locale,
    points_name: String,
    api: Api,
    controls: Controls,
    state: RwSignal<Load<Loaded>>,
    issued: RwSignal<Option<Redeemed>>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let missing = reward.points - available;
    let reward_id = reward.id.clone();
    let redeem = move |_| {
        let (api, reward_id) = (api.clone(), reward_id.clone());
        let Some(token) = controls.token.get_untracked() else { return };
        busy.set(true);
        // One id per confirmed click: a retried request returns the same coupon.
        let redemption_id = format!("widget-{}", (js_sys::Math::random() * 1e16) as u64);
        leptos::task::spawn_local(async move {
            match api.redeem(&token, &reward_id, &redemption_id).await {
                Ok(redeemed) => {
                    announce_redeemed(&redeemed, &reward_id);
                    issued.set(Some(redeemed));
                    // The balance, tier and coupons change: read them again.
                    reload_me(&api, &token, state).await;
                }
                Err(Failure::Token(detail) | Failure::Unavailable(detail)) => {
                    web_sys::console::warn_1(&format!("[tally] redemption failed: {detail}").into());
                    busy.set(false);
                    confirming.set(false);
                }
            }
        });
    };
    view! {
        <li class="row reward">
            <span>
                <span class="reward-name">{reward.name.clone()}</span>
                <span class="muted">" · " {locale.number(reward.points)} " " {points_name}</span>
            </span>
            {if missing > 0 {
                view! { <span class="muted">{locale.number(missing)} " " {locale.text(Text::More)}</span> }.into_any()
            } else {
                view! {
                    <Show
                        when=move || confirming.get()
                        fallback=move || view! {
                            <button class="button" on:click=move |_| confirming.set(true)>{locale.text(Text::Redeem)}</button>
                        }
                    >
                        <span class="confirm">
                            <button class="button" disabled=move || busy.get() on:click=redeem.clone()>
                                {locale.text(Text::Confirm)}
                            </button>
                            <button class="button secondary" on:click=move |_| confirming.set(false)>
                                {locale.text(Text::Cancel)}
                            </button>
                        </span>
                    </Show>
                }.into_any()
            }}
        </li>
    }
}

/// What the shopper must know of a code the store is still creating, or refused.
fn checkout_note(checkout: Option<&str>, locale: Locale) -> Option<impl IntoView> {
    let text = match checkout? {
        "pending" => Text::CheckoutPending,
        "failed" => Text::CheckoutFailed,
        _ => return None,
    };
    Some(view! { <p class="muted checkout-note" role="note">{locale.text(text)}</p> })
}

/// Reads the shopper's balances and coupons again.
async fn reload_me(api: &Api, token: &str, state: RwSignal<Load<Loaded>>) {
    if let Ok(me) = api.me(token).await {
        state.update(|state| {
            if let Load::Ready(loaded) = state {
                loaded.me = Some(me);
            }
        });
    }
}

thread_local! {
    /// Reloads spent waiting for the store to create coupons (a minute's worth at most).
    static CHECKOUT_POLLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// While the store is still creating a coupon, looks again in a few seconds, so the note goes
/// as soon as the code works at checkout.
fn watch_checkout(me: &CustomerSummary, api: &Api, controls: Controls, state: RwSignal<Load<Loaded>>) {
    let pending = me.coupons.iter().any(|coupon| coupon.usable && coupon.checkout.as_deref() == Some("pending"));
    if !pending || CHECKOUT_POLLS.get() >= 20 {
        return;
    }
    CHECKOUT_POLLS.set(CHECKOUT_POLLS.get() + 1);
    let api = api.clone();
    set_timeout(
        move || {
            let Some(token) = controls.token.get_untracked() else { return };
            leptos::task::spawn_local(async move { reload_me(&api, &token, state).await });
        },
        std::time::Duration::from_secs(3),
    );
}

#[component]
fn CouponCode(redeemed: Redeemed, checkout: Option<String>, locale: Locale) -> impl IntoView {
    // The button that was pressed is gone: keep keyboard users where the result is.
    let copy_button = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = copy_button.get() {
            let _ = button.focus();
        }
    });
    view! {
        <div class="coupon" role="status">
            <p class="muted">{locale.text(Text::YourCode)}</p>
            <p class="coupon-code">{redeemed.code.clone()}</p>
            <CopyButton text=redeemed.code.clone() locale node_ref=copy_button/>
            <p class="muted">{locale.text(Text::Expires)} " " {locale.date(&redeemed.expires_at)}</p>
            {checkout_note(checkout.as_deref(), locale)}
        </div>
    }
}

/// Copies `text`; says "Copied" once the clipboard has it (and keeps saying it: the text
/// does not change).
#[component]
fn CopyButton(text: String, locale: Locale, #[prop(optional)] node_ref: NodeRef<html::Button>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        if let Some(window) = web_sys::window() {
            let written = window.navigator().clipboard().write_text(&text);
            leptos::task::spawn_local(async move {
                if wasm_bindgen_futures::JsFuture::from(written).await.is_ok() {
                    copied.set(true);
                }
            });
        }
    };
    view! {
        <button class="button" node_ref=node_ref on:click=copy aria-live="polite">
            {move || locale.text(if copied.get() { Text::Copied } else { Text::Copy })}
        </button>
    }
}

/// The shopper's referral link to copy or share (share pages of the networks themselves: no
/// third-party script on the storefront), and what referring earns.
#[component]
fn ReferFriend(link: ReferralLink, program: ProgramSummary, locale: Locale) -> impl IntoView {
    let way = program.ways_to_earn.iter().find(|way| way.action == "referral").cloned();
    let points_name = program.points_name.clone();
    let shared = link.url.clone().unwrap_or_else(|| link.code.clone());
    let message = format!("{} {shared}", locale.text(Text::ShareMessage));
    let encode = |text: &str| String::from(js_sys::encode_uri_component(text));
    let share = link.url.as_ref().map(|url| {
        [
            (locale.text(Text::Email), format!("mailto:?subject={}&body={}", encode(&program.name), encode(&message))),
            ("WhatsApp", format!("https://wa.me/?text={}", encode(&message))),
            ("X", format!("https://x.com/intent/post?text={}", encode(&message))),
            ("Facebook", format!("https://www.facebook.com/sharer/sharer.php?u={}", encode(url))),
        ]
    });
    view! {
        <h3 class="section">{locale.action("referral")}</h3>
        {way.map(|way| view! {
            <p class="muted referral-lead">
                {locale.text(Text::ReferralLead)} " " {locale.number(way.points)} " " {points_name.clone()}
                {way.referred_points.filter(|points| *points > 0).map(|points| format!(
                    " {} {} {}", locale.text(Text::FriendGets), locale.number(points), points_name
                ))}
            </p>
        })}
        <div class="referral">
            <label class="muted" for="tally-referral">{locale.text(Text::YourLink)}</label>
            <input id="tally-referral" class="referral-link" readonly value=shared.clone()/>
            <CopyButton text=shared locale/>
        </div>
        {share.map(|targets| view! {
            <p class="share">
                {targets.into_iter().map(|(name, href)| view! {
                    <a class="share-link" href=href target="_blank" rel="noopener noreferrer">{name}</a>
                }).collect_view()}
            </p>
        })}
    }
}

/// `tally:redeemed` on the page's `document`, so the shop can apply the code to the cart.
fn announce_redeemed(redeemed: &Redeemed, reward_id: &str) {
    let detail = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&detail, &"code".into(), &redeemed.code.as_str().into());
    let _ = js_sys::Reflect::set(&detail, &"rewardId".into(), &reward_id.into());
    let _ = js_sys::Reflect::set(&detail, &"expiresAt".into(), &redeemed.expires_at.as_str().into());
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&JsValue::from(detail));
    init.set_bubbles(true);
    if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict("tally:redeemed", &init) {
        let _ = document().dispatch_event(&event);
    }
}

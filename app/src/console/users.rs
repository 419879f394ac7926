//! Console users (owners only): who may sign in, with which role, to which programs; new
//! users, new passwords, removal. The server keeps at least one owner and audits every change.

use leptos::prelude::*;

use super::{
    error_message, forms,
    i18n::{t, tr, trf},
    loaded_page,
    model::{UserForm, UserRow, UsersBoard},
    role_name, short_time, TopBar,
};

#[cfg(feature = "ssr")]
use super::model::ConsoleError;

/// The console's users.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait UsersConsole: Send + Sync {
    async fn users(&self, session: Option<&str>) -> Result<UsersBoard, ConsoleError>;
    /// Creates a user (`form.user_id` empty) or changes one's role and programs.
    async fn save_user(&self, session: Option<&str>, csrf: &str, form: UserForm) -> Result<UserRow, ConsoleError>;
    /// A new password for a user; their other sessions end.
    async fn set_user_password(
        &self,
        session: Option<&str>,
        csrf: &str,
        user_id: &str,
        password: &str,
    ) -> Result<(), ConsoleError>;
    /// Removes a user and ends their sessions.
    async fn remove_user(&self, session: Option<&str>, csrf: &str, user_id: &str) -> Result<(), ConsoleError>;
    /// Any user's own new password, given the current one; their other sessions end.
    async fn change_own_password(
        &self,
        session: Option<&str>,
        csrf: &str,
        current: &str,
        password: &str,
    ) -> Result<(), ConsoleError>;
}

const ROLES: [(&str, &str); 3] = [
    ("admin", t("Admin: changes the programs granted")),
    ("viewer", t("Viewer: reads the programs granted")),
    ("owner", t("Owner: every program, users and the audit log")),
];

#[server(prefix = "/admin/fn", endpoint = "users")]
pub async fn load_users() -> Result<UsersBoard, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.users(session.as_deref()).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "save_user", input = leptos::server_fn::codec::Json)]
pub async fn save_user(csrf: String, form: UserForm) -> Result<UserRow, ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.save_user(session.as_deref(), &csrf, form).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "set_user_password")]
pub async fn set_user_password(csrf: String, user_id: String, password: String) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.set_user_password(session.as_deref(), &csrf, &user_id, &password).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "remove_user")]
pub async fn remove_user(csrf: String, user_id: String) -> Result<(), ServerFnError> {
    let (backend, session) = super::backend()?;
    backend.remove_user(session.as_deref(), &csrf, &user_id).await.map_err(super::fail)
}

#[server(prefix = "/admin/fn", endpoint = "change_own_password")]
pub async fn change_own_password(
    csrf: String,
    current: String,
    password: String,
    confirm: String,
) -> Result<(), ServerFnError> {
    super::auth::same_passwords(&password, &confirm)?;
    let (backend, session) = super::backend()?;
    backend.change_own_password(session.as_deref(), &csrf, &current, &password).await.map_err(super::fail)
}

/// Every user's own page: who they are, and a new password.
#[component]
pub fn AccountPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| super::me());
    loaded_page(t("Loading your account…"), data, move |user| view! { <AccountView user/> })
}

#[component]
fn AccountView(user: super::model::SignedInUser) -> impl IntoView {
    let change = ServerAction::<ChangeOwnPassword>::new();
    let failure = forms::failure(change);
    let message_for = move |field: &'static str| {
        move || failure().and_then(|(on, text)| (on.as_deref() == Some(field)).then_some(text))
    };
    let general_error = move || failure().and_then(|(on, text)| on.is_none().then_some(text));
    let done = move || matches!(change.value().get(), Some(Ok(()))).then(|| tr("Password changed."));
    let (email, role, csrf) = (user.email.clone(), role_name(&user.role), user.csrf.clone());
    view! {
        <TopBar user/>
        <main class="page narrow">
            <nav class="crumbs"><a href="/admin">{tr("Programs")}</a> " / " {tr("Your account")}</nav>
            <h1>{tr("Your account")}</h1>
            <p class="muted">{email} " · " {role}</p>
            <h2>{tr("Change your password")}</h2>
            <ActionForm action=change attr:class="form" attr:aria-label=tr("Change your password")>
                <input type="hidden" name="csrf" value=csrf/>
                <label>{tr("Current password")}
                    <input type="password" name="current" autocomplete="current-password" required/>
                    <span class="error field-error">{message_for("current")}</span>
                </label>
                <label>{tr("New password (at least 10 characters)")}
                    <input type="password" name="password" autocomplete="new-password" minlength="10" required/>
                    <span class="error field-error">{message_for("password")}</span>
                </label>
                <label>{tr("Repeat the new password")}
                    <input type="password" name="confirm" autocomplete="new-password" minlength="10" required/>
                    <span class="error field-error">{message_for("confirm")}</span>
                </label>
                <p class="error" role="alert">{general_error}</p>
                <p class="notice-inline" role="status">{done}</p>
                <button class="button primary" type="submit">{tr("Change password")}</button>
            </ActionForm>
        </main>
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let save = ServerAction::<SaveUser>::new();
    let password = ServerAction::<SetUserPassword>::new();
    let remove = ServerAction::<RemoveUser>::new();
    // The form being edited, kept outside what reloads: a refused save keeps it and its message.
    let editing = RwSignal::new(None::<UserForm>);
    let saved = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            editing.set(None);
            saved.update(|count| *count += 1);
        }
    });
    let data = Resource::new(move || (saved.get(), remove.version().get()), |_| load_users());
    loaded_page(t("Loading users…"), data, move |board| view! { <UsersView board save password remove editing/> })
}

#[component]
fn UsersView(
    board: UsersBoard,
    save: ServerAction<SaveUser>,
    password: ServerAction<SetUserPassword>,
    remove: ServerAction<RemoveUser>,
    editing: RwSignal<Option<UserForm>>,
) -> impl IntoView {
    let UsersBoard { user, users, programs } = board;
    let csrf = user.csrf.clone();
    let program_names = programs.clone();
    let name_of = move |id: &String| {
        program_names.iter().find(|(program, _)| program == id).map_or_else(|| id.clone(), |(_, name)| name.clone())
    };
    let outcome = move || {
        let failed = |value: Option<Result<(), ServerFnError>>| value.and_then(Result::err).map(error_message);
        failed(remove.value().get())
            .map(|message| ("error", message))
            .or_else(|| failed(password.value().get()).map(|message| ("error", message)))
            .or_else(|| {
                matches!(password.value().get(), Some(Ok(()))).then(|| ("notice", tr("Password changed.").into()))
            })
    };
    let new_user = UserForm { role: "admin".into(), ..UserForm::default() };
    view! {
        <TopBar user/>
        <main class="page wide">
            <nav class="crumbs"><a href="/admin">{tr("Programs")}</a> " / " {tr("Users")}</nav>
            <h1>{tr("Users")}</h1>
            <p class="muted">{tr("Owners manage users. Admins and viewers see only the programs granted to them.")}</p>
            {move || outcome().map(|(class, message)| view! { <p class=class role="status">{message}</p> })}
            <button class="button primary" on:click=move |_| { save.clear(); editing.set(Some(new_user.clone())) }>{tr("New user")}</button>
            {
                let (csrf, programs) = (csrf.clone(), programs.clone());
                move || editing.get().map(|form| view! { <UserEditor form csrf=csrf.clone() programs=programs.clone() save editing/> })
            }
            <table class="table users">
                <thead><tr><th>{tr("Email")}</th><th>{tr("Role")}</th><th>{tr("Programs")}</th><th>{tr("Created (UTC)")}</th><th></th></tr></thead>
                <tbody>
                    {users.into_iter().map(|row| {
                        let granted = if row.role == "owner" {
                            tr("all programs").to_owned()
                        } else if row.programs.is_empty() {
                            tr("none yet").to_owned()
                        } else {
                            row.programs.iter().map(&name_of).collect::<Vec<_>>().join(", ")
                        };
                        view! { <UserTableRow row granted csrf=csrf.clone() save password remove editing/> }
                    }).collect_view()}
                </tbody>
            </table>
        </main>
    }
}

#[component]
fn UserTableRow(
    row: UserRow,
    granted: String,
    csrf: String,
    save: ServerAction<SaveUser>,
    password: ServerAction<SetUserPassword>,
    remove: ServerAction<RemoveUser>,
    editing: RwSignal<Option<UserForm>>,
) -> impl IntoView {
    let form = UserForm {
        user_id: Some(row.id.clone()),
        email: row.email.clone(),
        password: String::new(),
        role: row.role.clone(),
        programs: row.programs.clone(),
    };
    let new_password = RwSignal::new(String::new());
    let (id, email) = (row.id.clone(), row.email.clone());
    let set_password = {
        let (csrf, id) = (csrf.clone(), id.clone());
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            password.dispatch(SetUserPassword {
                csrf: csrf.clone(),
                user_id: id.clone(),
                password: new_password.get_untracked(),
            });
            new_password.set(String::new());
        }
    };
    let remove_user = move |_| {
        let question = trf("Remove {0}? They are signed out at once.", &[&email]);
        if window().confirm_with_message(&question).unwrap_or(false) {
            remove.dispatch(RemoveUser { csrf: csrf.clone(), user_id: id.clone() });
        }
    };
    view! {
        <tr data-user=row.email.clone() data-role=row.role.clone()>
            <td>{row.email.clone()} {row.is_you.then(|| view! { " " <span class="pill">{tr("you")}</span> })}</td>
            <td>{role_name(&row.role)}</td>
            <td>{granted}</td>
            <td>{short_time(&row.created_at)}</td>
            <td class="actions">
                <button class="button" aria-label=trf("Edit {0}", &[&row.email])
                    on:click=move |_| { save.clear(); editing.set(Some(form.clone())) }>{tr("Edit")}</button>
                <form class="inline" method="post" on:submit=set_password>
                    <input type="password" autocomplete="new-password" minlength="10" required
                        aria-label=trf("New password for {0}", &[&row.email]) placeholder=tr("New password")
                        bind:value=new_password/>
                    <button class="button" type="submit">{tr("Set password")}</button>
                </form>
                {(!row.is_you).then(|| view! { <button class="button" on:click=remove_user>{tr("Remove")}</button> })}
            </td>
        </tr>
    }
}

#[component]
fn UserEditor(
    form: UserForm,
    csrf: String,
    programs: Vec<(String, String)>,
    save: ServerAction<SaveUser>,
    editing: RwSignal<Option<UserForm>>,
) -> impl IntoView {
    let creating = form.user_id.is_none();
    let title = if creating { tr("New user") } else { tr("Edit user") };
    let draft = RwSignal::new(form);
    let failure = forms::failure(save);
    let message_for = move |field: &'static str| {
        move || failure().and_then(|(on, text)| (on.as_deref() == Some(field)).then_some(text))
    };
    let general_error = move || failure().and_then(|(on, text)| on.is_none().then_some(text));
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        save.dispatch(SaveUser { csrf: csrf.clone(), form: draft.get_untracked() });
    };
    let is_owner = move || draft.with(|form| form.role == "owner");
    view! {
        <form class="form editor" method="post" on:submit=submit aria-label=title>
            <h2>{title}</h2>
            <label>{tr("Email")}
                <input type="email" name="email" required disabled=!creating
                    prop:value=move || draft.with(|form| form.email.clone())
                    on:input=move |event| { let value = event_target_value(&event); draft.update(|form| form.email = value) }/>
                <span class="error field-error">{message_for("email")}</span>
            </label>
            {creating.then(|| view! {
                <label>{tr("Password (at least 10 characters)")}
                    <input type="password" name="password" autocomplete="new-password" minlength="10" required
                        on:input=move |event| { let value = event_target_value(&event); draft.update(|form| form.password = value) }/>
                    <span class="error field-error">{message_for("password")}</span>
                </label>
            })}
            <label>{tr("Role")} " "
                <select name="role" on:change=move |event| { let value = event_target_value(&event); draft.update(|form| form.role = value) }>
                    {ROLES.iter().map(|(value, label)| view! {
                        <option value=*value selected=draft.with_untracked(|form| form.role == *value)>{tr(label)}</option>
                    }).collect_view()}
                </select>
                <span class="error field-error">{message_for("role")}</span>
            </label>
            <fieldset class="programs" disabled=is_owner>
                <legend>{tr("Programs this user may see")}</legend>
                {programs.into_iter().map(|(id, name)| {
                    let program = id.clone();
                    view! {
                        <label class="check">
                            <input type="checkbox" name="programs" value=id.clone()
                                prop:checked=move || draft.with(|form| form.programs.contains(&id))
                                on:change=move |event| {
                                    let on = event_target_checked(&event);
                                    draft.update(|form| {
                                        form.programs.retain(|granted| *granted != program);
                                        if on {
                                            form.programs.push(program.clone());
                                        }
                                    })
                                }/>
                            " " {name}
                        </label>
                    }
                }).collect_view()}
                <span class="error field-error">{message_for("programs")}</span>
            </fieldset>
            <p class="error" role="alert">{general_error}</p>
            <p>
                <button class="button primary" type="submit" disabled=move || save.pending().get()>{tr("Save user")}</button>
                " "
                <button class="button" type="button" on:click=move |_| editing.set(None)>{tr("Cancel")}</button>
            </p>
        </form>
    }
}

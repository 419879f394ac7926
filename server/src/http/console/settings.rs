//! The console's settings page, checked by [`Program::update`] like `PUT /api/v1/settings`.

use serde_json::json;
use tally_app::console::{
    model::{ConsoleError, SettingsBoard, SettingsForm},
    money::{format_amount, parse_amount},
    settings::SettingsConsole,
};

use super::{customers::program_header, invalid, invalid_field, invalid_text, signed_in_user, ConsoleService};
use crate::{
    ledger::{ClawbackPolicy, ExpiryPolicy},
    message::message,
    programs::{LauncherPosition, Program, RedemptionValue},
};

fn form_of(program: &Program) -> SettingsForm {
    let settings = &program.settings;
    let (expiry, expiry_days) = match settings.expiry {
        ExpiryPolicy::Never => ("never", String::new()),
        ExpiryPolicy::AfterEarning { days } => ("after_earning", days.to_string()),
        ExpiryPolicy::AfterInactivity { days } => ("after_inactivity", days.to_string()),
    };
    let widget = &settings.widget;
    SettingsForm {
        name: program.name.clone(),
        points_name: program.points_name.clone(),
        allowed_origins: program.allowed_origins.join("\n"),
        pending_days: settings.pending_days.to_string(),
        expiry: expiry.into(),
        expiry_days,
        clawback: match settings.clawback {
            ClawbackPolicy::CapAtZero => "cap_at_zero",
            ClawbackPolicy::AllowNegative => "allow_negative",
        }
        .into(),
        redemption_points: settings.redemption_value.points.to_string(),
        redemption_amount: format_amount(settings.redemption_value.amount, &program.currency),
        time_zone: settings.time_zone.clone().unwrap_or_default(),
        primary_color: widget.primary_color.clone().unwrap_or_default(),
        launcher_position: match widget.launcher_position {
            LauncherPosition::BottomRight => "bottom_right",
            LauncherPosition::BottomLeft => "bottom_left",
        }
        .into(),
        launcher_label: widget.launcher_label.clone().unwrap_or_default(),
        join_url: widget.join_url.clone().unwrap_or_default(),
        sign_in_url: widget.sign_in_url.clone().unwrap_or_default(),
        token_max_lifetime_minutes: widget.token_max_lifetime_minutes.map(|m| m.to_string()).unwrap_or_default(),
        api_requests_per_minute: settings.api_requests_per_minute.map(|n| n.to_string()).unwrap_or_default(),
    }
}

/// Applies the form to the program; the error names the form's field (or the domain's).
fn apply(program: &mut Program, form: &SettingsForm) -> Result<(), ConsoleError> {
    fn days(field: &str, text: &str) -> Result<u32, ConsoleError> {
        text.trim().parse().map_err(|_| invalid(field, message!("a whole number of days")))
    }
    let optional = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    let mut settings = program.settings.clone();
    settings.pending_days = days("pending_days", &form.pending_days)?;
    settings.expiry = match form.expiry.as_str() {
        "never" => ExpiryPolicy::Never,
        "after_earning" => ExpiryPolicy::AfterEarning { days: days("expiry_days", &form.expiry_days)? },
        "after_inactivity" => ExpiryPolicy::AfterInactivity { days: days("expiry_days", &form.expiry_days)? },
        _ => return Err(invalid("expiry", message!("never, after_earning or after_inactivity"))),
    };
    settings.clawback = match form.clawback.as_str() {
        "cap_at_zero" => ClawbackPolicy::CapAtZero,
        "allow_negative" => ClawbackPolicy::AllowNegative,
        _ => return Err(invalid("clawback", message!("cap_at_zero or allow_negative"))),
    };
    let points =
        form.redemption_points.trim().parse().map_err(|_| invalid("redemption_points", message!("a whole number")))?;
    let amount = parse_amount(&form.redemption_amount, &program.currency)
        .map_err(|message| invalid_text("redemption_amount", message))?;
    settings.redemption_value = RedemptionValue { points, amount };
    settings.time_zone = optional(&form.time_zone);
    settings.widget.primary_color = optional(&form.primary_color);
    settings.widget.launcher_position = match form.launcher_position.as_str() {
        "bottom_left" => LauncherPosition::BottomLeft,
        "bottom_right" => LauncherPosition::BottomRight,
        _ => return Err(invalid("launcher_position", message!("bottom_right or bottom_left"))),
    };
    settings.widget.launcher_label = optional(&form.launcher_label);
    settings.widget.join_url = optional(&form.join_url);
    settings.widget.sign_in_url = optional(&form.sign_in_url);
    let whole = |field: &str, text: &str| {
        optional(text)
            .map(|text| text.parse::<u32>().map_err(|_| invalid(field, message!("a whole number"))))
            .transpose()
    };
    settings.widget.token_max_lifetime_minutes = whole("token_max_lifetime_minutes", &form.token_max_lifetime_minutes)?;
    settings.api_requests_per_minute = whole("api_requests_per_minute", &form.api_requests_per_minute)?;
    let origins = form.allowed_origins.lines().filter_map(optional).collect();
    program.update(&form.name, &form.points_name, origins, settings).map_err(invalid_field)
}

#[async_trait::async_trait]
impl SettingsConsole for ConsoleService {
    async fn settings(&self, token: Option<&str>, program_id: &str) -> Result<SettingsBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        Ok(SettingsBoard {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            currency: program.currency.clone(),
            form: form_of(&program),
        })
    }
    async fn save_settings(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: SettingsForm,
    ) -> Result<SettingsForm, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let snapshot = |program: &Program| json!(serde_json::to_value(form_of(program)).unwrap_or_default());
        let change = |program: &mut Program| apply(program, &form);
        let program = self.save_program_part(&user, &program.id, "program.settings", snapshot, change).await?;
        Ok(form_of(&program))
    }
}

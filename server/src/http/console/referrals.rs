//! The console's referrals page: the held queue decided through the points service (audited
//! in the decision's transaction), the links' settings saved like any program part.

use serde_json::json;
use tally_app::console::{
    i18n::trf,
    model::{ConsoleError, ReferralRow, ReferralSettingsForm, ReferralsBoard},
    referrals::{hold_reason, ReferralsConsole},
};

use super::{customers::program_header, invalid, invalid_field, signed_in_user, unavailable, ConsoleService};
use crate::{
    message::message,
    points::PointsError,
    programs::Program,
    referrals::{ReferralSettings, ReferralStatus},
    storage::Referral,
};

/// How many referrals each list shows.
const LISTED: u32 = 100;

fn form_of(settings: &ReferralSettings) -> ReferralSettingsForm {
    ReferralSettingsForm {
        parameter: settings.parameter.clone(),
        keep_days: settings.keep_days.to_string(),
        max_claims: settings.max_claims.to_string(),
        window_hours: settings.window_hours.to_string(),
    }
}

fn apply(program: &mut Program, form: &ReferralSettingsForm) -> Result<(), ConsoleError> {
    let whole = |field: &str, text: &str| text.trim().parse().map_err(|_| invalid(field, message!("a whole number")));
    let settings = ReferralSettings {
        parameter: form.parameter.trim().to_owned(),
        keep_days: whole("keep_days", &form.keep_days)?,
        max_claims: whole("max_claims", &form.max_claims)?,
        window_hours: whole("window_hours", &form.window_hours)?,
    };
    settings.validate().map_err(invalid_field)?;
    program.settings.referrals = settings;
    Ok(())
}

fn row(referral: Referral) -> ReferralRow {
    let reasons = serde_json::to_value(&referral.hold_reasons).unwrap_or_default();
    ReferralRow {
        reasons: reasons.as_array().into_iter().flatten().filter_map(|r| r.as_str()).map(|r| hold_reason(r).to_owned()).collect(),
        status: referral.status.as_str().to_owned(),
        referred_id: referral.referred_id,
        referrer_id: referral.referrer_id,
        channel: referral.channel,
        created_at: referral.created_at.to_string(),
        rewarded_at: referral.rewarded_at.map(|at| at.to_string()),
        reviewed_by: referral.reviewed_by,
    }
}

#[async_trait::async_trait]
impl ReferralsConsole for ConsoleService {
    async fn referrals(&self, token: Option<&str>, program_id: &str) -> Result<ReferralsBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let storage = self.0.storage.as_ref();
        let held = storage.referrals_in(&program.id, Some(ReferralStatus::Held), LISTED).await.map_err(unavailable)?;
        let recent = storage.referrals_in(&program.id, None, LISTED).await.map_err(unavailable)?;
        Ok(ReferralsBoard {
            user: signed_in_user(&session, &user),
            program: program_header(storage, &program).await?,
            rewarded: program.settings.action_rule("referral").is_some(),
            form: form_of(&program.settings.referrals),
            held: held.into_iter().map(row).collect(),
            recent: recent.into_iter().map(row).collect(),
        })
    }

    async fn decide_referral(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        customer_id: &str,
        approve: bool,
    ) -> Result<(), ConsoleError> {
        let (user, program) = self.writable_program(token, csrf, program_id).await?;
        let action = if approve { "referral.approve" } else { "referral.reject" };
        let audit = self.audit_entry(&user, Some(&program), action, customer_id, None, Some(json!({"approved": approve})));
        match self.0.points.decide_referral(&program, customer_id, approve, audit).await {
            Ok(_) => Ok(()),
            Err(PointsError::Storage(error)) => Err(unavailable(error)),
            Err(PointsError::NoReferral(id)) => {
                Err(ConsoleError::NotFound(trf("No referral of customer {0} in this program.", &[&id])))
            }
            Err(other) => Err(invalid("referral", other.message())),
        }
    }

    async fn save_referral_settings(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: ReferralSettingsForm,
    ) -> Result<ReferralSettingsForm, ConsoleError> {
        let (user, program) = self.writable_program(token, csrf, program_id).await?;
        let snapshot = |program: &Program| json!(serde_json::to_value(form_of(&program.settings.referrals)).unwrap_or_default());
        let change = |program: &mut Program| apply(program, &form);
        let program = self.save_program_part(&user, &program.id, "program.referrals", snapshot, change).await?;
        Ok(form_of(&program.settings.referrals))
    }
}

//! The console's tiers and campaigns page, checked by [`Program::update`] like
//! `PUT /api/v1/tiers` and `PUT /api/v1/campaigns`. Campaign days are whole days in the
//! program's time zone.

use jiff::civil::Date;
use serde_json::json;
use tally_app::console::{
    loyalty::LoyaltyConsole,
    model::{CampaignForm, ConsoleError, LoyaltyBoard, LoyaltyForm, TierForm},
    money::{format_amount, parse_amount},
};

use super::{customers::program_header, invalid, invalid_text, signed_in_user, ConsoleService};
use crate::{
    dashboard::{calendar, program_time_zone},
    ledger::Timestamp,
    message::{message, FieldError},
    programs::Program,
    rules::{Campaign, CampaignTarget},
    tiers::{Tier, TierBasis, TierLadder, TierWindow},
};

const TARGETS: [(CampaignTarget, &str); 3] =
    [(CampaignTarget::Purchases, "purchases"), (CampaignTarget::Actions, "actions"), (CampaignTarget::All, "all")];
const WINDOWS: [(TierWindow, &str); 3] = [
    (TierWindow::Lifetime, "lifetime"),
    (TierWindow::Rolling12Months, "rolling12_months"),
    (TierWindow::CalendarYear, "calendar_year"),
];

fn form_of(program: &Program) -> LoyaltyForm {
    let ladder = &program.settings.tiers;
    let by_money = ladder.basis == TierBasis::AmountSpent;
    let tz = program_time_zone(program);
    let day = |at: Timestamp| calendar::today(at, &tz).to_string();
    LoyaltyForm {
        basis: if by_money { "amount_spent" } else { "points_earned" }.into(),
        window: WINDOWS.iter().find(|(window, _)| *window == ladder.window).map_or("lifetime", |(_, name)| name).into(),
        tiers: ladder
            .tiers
            .iter()
            .map(|tier| TierForm {
                id: tier.id.clone(),
                name: tier.name.clone(),
                threshold: if by_money {
                    format_amount(tier.threshold, &program.currency)
                } else {
                    tier.threshold.to_string()
                },
                multiplier_percent: tier.multiplier_percent.to_string(),
                benefits: tier.benefits.clone(),
            })
            .collect(),
        campaigns: program
            .settings
            .campaigns
            .iter()
            .map(|campaign| CampaignForm {
                id: campaign.id.clone(),
                name: campaign.name.clone(),
                multiplier_percent: campaign.multiplier_percent.to_string(),
                first_day: day(campaign.starts_at),
                // The last day is the one the campaign's end (exclusive) closes.
                last_day: day(Timestamp(campaign.ends_at.0 - 1)),
                applies_to: TARGETS
                    .iter()
                    .find(|(target, _)| *target == campaign.applies_to)
                    .map_or("purchases", |(_, name)| name)
                    .into(),
                active: campaign.active,
            })
            .collect(),
    }
}

fn apply(program: &mut Program, form: &LoyaltyForm) -> Result<(), ConsoleError> {
    let tz = program_time_zone(program);
    let basis = match form.basis.as_str() {
        "points_earned" => TierBasis::PointsEarned,
        "amount_spent" => TierBasis::AmountSpent,
        _ => return Err(invalid("basis", message!("points_earned or amount_spent"))),
    };
    let window = WINDOWS
        .iter()
        .find(|(_, name)| *name == form.window)
        .map(|(window, _)| *window)
        .ok_or_else(|| invalid("window", message!("lifetime, rolling12_months or calendar_year")))?;
    let percent = |field: String, text: &str| {
        text.trim().parse::<u32>().map_err(|_| invalid(&field, message!("a whole percent, e.g. 150")))
    };
    let tiers = form
        .tiers
        .iter()
        .enumerate()
        .map(|(index, tier)| {
            let threshold =
                match basis {
                    TierBasis::AmountSpent => parse_amount(&tier.threshold, &program.currency)
                        .map_err(|message| invalid_text(&format!("tiers[{index}].threshold"), message))?,
                    TierBasis::PointsEarned => tier.threshold.trim().parse().map_err(|_| {
                        invalid(&format!("tiers[{index}].threshold"), message!("a whole number of points"))
                    })?,
                };
            Ok(Tier {
                id: tier.id.trim().to_owned(),
                name: tier.name.trim().to_owned(),
                threshold,
                multiplier_percent: percent(format!("tiers[{index}].multiplier_percent"), &tier.multiplier_percent)?,
                benefits: tier.benefits.trim().to_owned(),
            })
        })
        .collect::<Result<_, ConsoleError>>()?;
    let campaigns = form
        .campaigns
        .iter()
        .enumerate()
        .map(|(index, campaign)| {
            let field = |name: &str| format!("campaigns[{index}].{name}");
            let day = |name: &str, text: &str| {
                text.trim().parse::<Date>().map_err(|_| invalid(&field(name), message!("a date like 2026-12-01")))
            };
            let range = calendar::DateRange {
                first: day("first_day", &campaign.first_day)?,
                last: day("last_day", &campaign.last_day)?,
                preset: None,
            };
            let (starts_at, ends_at) = range.bounds(&tz);
            Ok(Campaign {
                id: campaign.id.trim().to_owned(),
                name: campaign.name.trim().to_owned(),
                multiplier_percent: percent(field("multiplier_percent"), &campaign.multiplier_percent)?,
                starts_at,
                ends_at,
                applies_to: TARGETS
                    .iter()
                    .find(|(_, name)| *name == campaign.applies_to.trim())
                    .map(|(target, _)| *target)
                    .ok_or_else(|| invalid(&field("applies_to"), message!("purchases, actions or all")))?,
                active: campaign.active,
            })
        })
        .collect::<Result<_, ConsoleError>>()?;
    let mut settings = program.settings.clone();
    settings.tiers = TierLadder { basis, window, tiers };
    settings.campaigns = campaigns;
    let (name, points_name, origins) =
        (program.name.clone(), program.points_name.clone(), program.allowed_origins.clone());
    program.update(&name, &points_name, origins, settings).map_err(|FieldError { field, message }| {
        invalid(field.trim_start_matches("settings.").trim_start_matches("tiers."), message)
    })
}

#[async_trait::async_trait]
impl LoyaltyConsole for ConsoleService {
    async fn loyalty(&self, token: Option<&str>, program_id: &str) -> Result<LoyaltyBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        Ok(LoyaltyBoard {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            currency: program.currency.clone(),
            time_zone: program_time_zone(&program).iana_name().unwrap_or("UTC").to_owned(),
            form: form_of(&program),
        })
    }

    async fn save_loyalty(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: LoyaltyForm,
    ) -> Result<LoyaltyForm, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let snapshot =
            |program: &Program| json!({ "tiers": program.settings.tiers, "campaigns": program.settings.campaigns });
        let change = |program: &mut Program| apply(program, &form);
        let program = self.save_program_part(&user, &program.id, "program.tiers_campaigns", snapshot, change).await?;
        Ok(form_of(&program))
    }
}

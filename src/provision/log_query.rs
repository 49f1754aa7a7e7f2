//! Choosing and writing provisioning log records: the filters the portal's log blade offers
//! (status, action, identity, date range) and the download formats. One home for the CLI
//! (`provision logs`) and the admin API (`/admin/jobs/{job}/logs`).

use time::OffsetDateTime;

use super::log::{modified_properties_csv, steps_csv, to_csv, Action, LogEntry, Status};

/// Which records a log query keeps. Empty means every record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    pub status: Option<Status>,
    pub action: Option<Action>,
    /// Matched, case-insensitively, against the source and target identity's id and
    /// display name (as the portal's "Identity" filter does).
    pub identity: Option<String>,
    /// Records at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Records before this instant.
    pub until: Option<OffsetDateTime>,
    pub cycle_id: Option<String>,
}

/// The raw text of each filter, as a query string or the command line gives it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogFilterText {
    pub status: Option<String>,
    pub action: Option<String>,
    pub identity: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub cycle_id: Option<String>,
}

impl LogFilterText {
    /// Checks every filter; the error names the filter and what it accepts.
    pub fn parse(&self) -> Result<LogFilter, String> {
        let time = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    crate::clock::parse_rfc3339(v).ok_or_else(|| {
                        format!("{name} must be an RFC 3339 time such as 2026-11-30T08:00:00Z, not '{v}'")
                    })
                })
                .transpose()
        };
        let present = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_string);
        Ok(LogFilter {
            status: Status::parse_filter(present(&self.status).as_deref())?,
            action: present(&self.action).as_deref().map(parse_action).transpose()?,
            identity: present(&self.identity).map(|i| i.to_lowercase()),
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            cycle_id: present(&self.cycle_id),
        })
    }
}

fn parse_action(text: &str) -> Result<Action, String> {
    let known = [
        ("create", Action::Create),
        ("update", Action::Update),
        ("delete", Action::Delete),
        ("disable", Action::Disable),
        ("stageddelete", Action::StagedDelete),
        ("other", Action::Other),
    ];
    known
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, action)| *action)
        .ok_or_else(|| format!("action must be create, update, delete, disable, stagedDelete or other, not '{text}'"))
}

impl LogFilter {
    pub fn matches(&self, entry: &LogEntry) -> bool {
        if self.status.is_some_and(|s| s != entry.status)
            || self.action.is_some_and(|a| a != entry.provisioning_action)
            || self.cycle_id.as_ref().is_some_and(|c| *c != entry.cycle_id)
        {
            return false;
        }
        if let Some(needle) = &self.identity {
            let identities = [&entry.source_identity, &entry.target_identity];
            let hit = identities.iter().any(|i| {
                i.id.to_lowercase().contains(needle.as_str()) || i.display_name.to_lowercase().contains(needle.as_str())
            });
            if !hit {
                return false;
            }
        }
        if self.since.is_some() || self.until.is_some() {
            // A record whose time does not parse is kept out of a dated query, not guessed at.
            let Some(at) = crate::clock::parse_rfc3339(&entry.activity_date_time) else {
                return false;
            };
            if self.since.is_some_and(|s| at < s) || self.until.is_some_and(|u| at >= u) {
                return false;
            }
        }
        true
    }
}

/// The download formats: Graph's records one per line, or the portal's three CSV tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Jsonl,
    Csv,
    CsvSteps,
    CsvProperties,
}

impl LogFormat {
    pub const NAMES: &'static str = "jsonl, csv, csv-steps or csv-properties";

    pub fn parse(text: &str) -> Result<LogFormat, String> {
        match text {
            "jsonl" => Ok(LogFormat::Jsonl),
            "csv" => Ok(LogFormat::Csv),
            "csv-steps" => Ok(LogFormat::CsvSteps),
            "csv-properties" => Ok(LogFormat::CsvProperties),
            other => Err(format!("format must be {}, not '{other}'", LogFormat::NAMES)),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            LogFormat::Jsonl => "application/x-ndjson",
            _ => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            LogFormat::Jsonl => "jsonl",
            LogFormat::Csv => "csv",
            LogFormat::CsvSteps => "steps.csv",
            LogFormat::CsvProperties => "properties.csv",
        }
    }

    pub fn render(self, entries: &[LogEntry]) -> Result<String, csv::Error> {
        match self {
            LogFormat::Jsonl => Ok(entries.iter().map(|e| e.to_graph().to_string() + "\n").collect()),
            LogFormat::Csv => to_csv(entries),
            LogFormat::CsvSteps => steps_csv(entries),
            LogFormat::CsvProperties => modified_properties_csv(entries),
        }
    }
}

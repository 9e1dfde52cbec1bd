//! One assignment of the registry: a service name, a port span, a transport, and
//! everything the registry says about them.

use std::fmt;
use std::str::FromStr;

use crate::port_range::{PortSpan, RangeClass};
use crate::transport::Transport;

/// An entry of the registry. Records are not unique by (name, port, transport):
/// the registry lists `rdp` twice with no port, so a registry keeps every record in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Service name (keyword); `None` for Reserved, Unassigned and nameless private-use rows.
    pub name: Option<String>,
    /// Other names for the same entry (services(5) aliases, legacy names on the same line).
    pub aliases: Vec<String>,
    /// The port or range; `None` for service-name-only (DNS-SD) records.
    pub ports: Option<PortSpan>,
    /// The transport; `None` where the source gives none (name-only records, legacy lines
    /// without `/proto`, IANA Unassigned rows that cover every transport).
    pub transport: Option<Transport>,
    /// Plain-text description, lines separated by `\n`.
    pub description: Option<String>,
    /// What the entry is: assigned, reserved, unassigned, ...
    pub status: Status,
    /// Assignee ids as given explicitly (IANA `<assignee>`); see [`Record::effective_assignees`].
    pub assignees: Vec<String>,
    /// Contacts: person ids (IANA) or inline `Name <mail>` lines (legacy).
    pub contacts: Vec<String>,
    /// Registration date.
    pub registered: Option<RegistryDate>,
    /// Last modification date.
    pub modified: Option<RegistryDate>,
    /// Typed references, in source order.
    pub references: Vec<Reference>,
    /// DCCP service code.
    pub service_code: Option<String>,
    /// Reported unauthorized use.
    pub unauthorized_use: Option<String>,
    /// Assignment notes, lines separated by `\n`.
    pub notes: Option<String>,
    /// The layer the record comes from: IANA's registry, local names, or nmap's table.
    pub source: Source,
    /// Source detail that only some formats carry, kept so that they round-trip.
    pub extra: RecordExtra,
}

/// Per-format detail of a record that the common fields cannot hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordExtra {
    /// The IANA XML inner markup of `<description>` when it has elements (`<br/>`, `<xref>`).
    pub description_markup: Option<String>,
    /// The IANA XML inner markup of `<note>` when it has elements (`<br/>`, `<paragraph>`).
    pub notes_markup: Option<String>,
    /// Legacy banner lines that concern this record
    /// (`### PORT 90 also being used unofficially by Pointcast ###`).
    pub banners: Vec<String>,
    /// Earlier assignments of this port from a legacy "Previously assigned" block.
    pub history: Vec<Record>,
    /// The port span as the source wrote it, where that differs from the usual form
    /// (IANA writes one port as `4748-4748`).
    pub ports_as_written: Option<String>,
    /// Whether the legacy text wrote the entry as a `#` comment (`#   4/tcp  Unassigned`);
    /// `None` where the source is not legacy text, and writers decide by status.
    pub commented: Option<bool>,
    /// nmap-services open frequency, kept as written (`0.001995`).
    pub frequency: Option<String>,
}

impl Record {
    /// Calls `edit` on every text a field of the record holds (its history's too; not the
    /// banners, comment blocks of lines of their own): what a writer that cannot carry
    /// some characters in a field cleans.
    pub fn for_each_text_mut(&mut self, edit: &mut dyn FnMut(&mut String)) {
        let Record {
            name,
            aliases,
            description,
            assignees,
            contacts,
            references,
            service_code,
            unauthorized_use,
            notes,
            extra,
            ..
        } = self;
        for text in name
            .iter_mut()
            .chain(aliases.iter_mut())
            .chain(description.iter_mut())
            .chain(assignees.iter_mut())
            .chain(contacts.iter_mut())
            .chain(service_code.iter_mut())
            .chain(unauthorized_use.iter_mut())
            .chain(notes.iter_mut())
            .chain(extra.description_markup.iter_mut())
            .chain(extra.notes_markup.iter_mut())
            .chain(extra.ports_as_written.iter_mut())
            .chain(extra.frequency.iter_mut())
        {
            edit(text);
        }
        for reference in references {
            edit(&mut reference.data);
            if let Some(title) = &mut reference.title {
                edit(title);
            }
        }
        for earlier in &mut extra.history {
            earlier.for_each_text_mut(edit);
        }
    }

    /// The assignees as IANA's CSV shows them: the explicit ones, else the contacts.
    pub fn effective_assignees(&self) -> &[String] {
        if self.assignees.is_empty() {
            &self.contacts
        } else {
            &self.assignees
        }
    }

    /// The port span as text, in the form the source wrote it.
    pub fn ports_text(&self) -> Option<String> {
        self.extra
            .ports_as_written
            .clone()
            .or_else(|| self.ports.map(|span| span.to_string()))
    }

    /// Where the record stands, for people: `6000-6063/tcp`, `6000`, `name only, tcp`.
    pub fn place(&self) -> String {
        match (self.ports_text(), &self.transport) {
            (Some(ports), Some(t)) => format!("{ports}/{t}"),
            (Some(ports), None) => ports,
            (None, Some(t)) => format!("name only, {t}"),
            (None, None) => "name only".to_owned(),
        }
    }

    /// The range class of the record's first port.
    pub fn range_class(&self) -> Option<RangeClass> {
        self.ports.map(|span| RangeClass::of(span.low))
    }

    /// The status the registry's own fields imply. Used by readers of formats that
    /// carry no status field; free text is only consulted for nameless rows and for
    /// IANA's fixed alias/historic note.
    pub fn derive_status(&self) -> Status {
        let description = self
            .description
            .as_deref()
            .unwrap_or("")
            .trim_start_matches(['(', ' ']);
        let notes = self.notes.as_deref().unwrap_or("");
        let starts = |text: &str, prefix: &str| {
            text.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        };
        if self.name.is_none() {
            if starts(description, "unassigned") {
                return Status::Unassigned;
            }
            if starts(description, "any private") {
                return Status::Private;
            }
            let removed = ["de-assigned", "de-registered", "removed"];
            if removed
                .iter()
                .any(|p| starts(description, p) || starts(notes, p))
            {
                return Status::Deassigned;
            }
            if starts(description, "reserved") {
                return Status::Reserved;
            }
        }
        if notes.contains("This entry is an alias to") || notes.contains("is now historic") {
            return Status::Historic;
        }
        Status::Assigned
    }
}

/// What an entry is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Status {
    /// Assigned to a service.
    #[default]
    Assigned,
    /// Reserved: not to be assigned (port 0, the other transport of an assignment, ...).
    Reserved,
    /// Free for assignment.
    Unassigned,
    /// Formerly assigned, now taken back.
    Deassigned,
    /// A historic alias kept for compatibility (`whois++` for `whoispp`).
    Historic,
    /// Any private use (`any private mail system`).
    Private,
    /// A temporary assignment.
    Temporary,
}

impl Status {
    /// The lower-case token used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Assigned => "assigned",
            Status::Reserved => "reserved",
            Status::Unassigned => "unassigned",
            Status::Deassigned => "deassigned",
            Status::Historic => "historic",
            Status::Private => "private",
            Status::Temporary => "temporary",
        }
    }
}

/// The layer a record comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Source {
    /// The registry itself (IANA's, or the registry file in use).
    #[default]
    Iana,
    /// An organisation's own names (`local.d`).
    Local,
    /// De facto names from nmap's services table.
    Nmap,
}

impl Source {
    /// The lower-case token used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Iana => "iana",
            Source::Local => "local",
            Source::Nmap => "nmap",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registry date: `YYYY-MM` or `YYYY-MM-DD`, kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistryDate(String);

/// A moment as `YYYY-MM-DDTHH:MM:SSZ` (UTC, to the second): how an authority's history
/// and a server's health report times.
pub fn utc_timestamp(time: std::time::SystemTime) -> String {
    let seconds = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        RegistryDate::of(time),
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Why a date does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a date YYYY-MM or YYYY-MM-DD")]
pub struct InvalidDate;

impl RegistryDate {
    /// The date as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTC day of `time`, `YYYY-MM-DD` (days-to-civil of Howard Hinnant's algorithms).
    pub fn of(time: std::time::SystemTime) -> RegistryDate {
        let days = time
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 86_400) as i64;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        RegistryDate(format!("{year:04}-{month:02}-{day:02}"))
    }

    /// The date's first moment, UTC (`YYYY-MM` is its month's first day); the inverse
    /// of [`RegistryDate::of`] (days-from-civil of Howard Hinnant's algorithms).
    pub fn to_system_time(&self) -> std::time::SystemTime {
        let mut parts = self.0.split('-').map(|p| p.parse::<i64>().unwrap_or(1));
        let (year, month, day) = (
            parts.next().unwrap_or(1970),
            parts.next().unwrap_or(1),
            parts.next().unwrap_or(1),
        );
        let year = year - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let yoe = year - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let seconds = u64::try_from(days.max(0) * 86_400).unwrap_or(0);
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)
    }

    /// Today, UTC.
    pub fn today() -> RegistryDate {
        RegistryDate::of(std::time::SystemTime::now())
    }
}

/// The days month `month` of `year` has (both as written, already checked as numbers):
/// 2015-02-29 is no date.
fn days_in_month(year: &str, month: &str) -> u32 {
    let year: u32 = year.parse().unwrap_or(1);
    match month.parse::<u32>().unwrap_or(1) {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl FromStr for RegistryDate {
    type Err = InvalidDate;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('-').collect();
        let number = |part: &str, digits: usize, max: u32| {
            part.len() == digits
                && part.bytes().all(|b| b.is_ascii_digit())
                && part.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n))
        };
        let valid = match parts.as_slice() {
            [year, month] => number(year, 4, 9999) && number(month, 2, 12),
            [year, month, day] => {
                number(year, 4, 9999)
                    && number(month, 2, 12)
                    && number(day, 2, days_in_month(year, month))
            }
            _ => false,
        };
        if valid {
            Ok(RegistryDate(text.to_owned()))
        } else {
            Err(InvalidDate)
        }
    }
}

impl fmt::Display for RegistryDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for RegistryDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for RegistryDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a reference points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum ReferenceKind {
    /// An RFC (`rfc6335`).
    Rfc,
    /// An Internet-Draft or an RFC-to-be (`RFC-ietf-lamps-rfc5273bis-10`).
    Draft,
    /// A URI.
    Uri,
    /// Free text.
    Text,
    /// A footnote of the registry, by anchor.
    Note,
    /// A person of the registry, by id.
    Person,
}

impl ReferenceKind {
    /// The IANA XML `type` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferenceKind::Rfc => "rfc",
            ReferenceKind::Draft => "draft",
            ReferenceKind::Uri => "uri",
            ReferenceKind::Text => "text",
            ReferenceKind::Note => "note",
            ReferenceKind::Person => "person",
        }
    }

    /// The kind named by an IANA XML `type` attribute.
    pub fn from_xml_type(name: &str) -> Option<Self> {
        Some(match name {
            "rfc" => ReferenceKind::Rfc,
            "draft" => ReferenceKind::Draft,
            "uri" => ReferenceKind::Uri,
            "text" => ReferenceKind::Text,
            "note" => ReferenceKind::Note,
            "person" => ReferenceKind::Person,
            _ => return None,
        })
    }
}

/// A typed reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
pub struct Reference {
    /// What it points at.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub kind: ReferenceKind,
    /// The target: `rfc6335`, a URI, a footnote anchor, a person id, or the text itself.
    pub data: String,
    /// The link text where the source gives one (`<xref type="uri" data="...">TR-352</xref>`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub title: Option<String>,
}

impl Reference {
    /// A reference of `kind` to `data`.
    pub fn new(kind: ReferenceKind, data: impl Into<String>) -> Self {
        Reference {
            kind,
            data: data.into(),
            title: None,
        }
    }

    /// The reference as IANA's CSV and text tables show it, without brackets:
    /// `RFC6335`, `RFC-ietf-...`, a URI or the text.
    pub fn label(&self) -> String {
        if let Some(title) = &self.title {
            return title.clone();
        }
        match self.kind {
            ReferenceKind::Rfc => self.data.to_ascii_uppercase(),
            _ => self.data.clone(),
        }
    }

    /// Parses a bracketed label back (`RFC6335` -> rfc `rfc6335`), the inverse of [`Reference::label`].
    pub fn from_label(label: &str) -> Self {
        let is_rfc = label.len() > 3
            && label.as_bytes()[..3].eq_ignore_ascii_case(b"rfc")
            && label.as_bytes()[3..].iter().all(u8::is_ascii_digit);
        if is_rfc {
            Reference::new(ReferenceKind::Rfc, label.to_ascii_lowercase())
        } else if label.starts_with("RFC-") || label.starts_with("draft-") {
            Reference::new(ReferenceKind::Draft, label)
        } else if label.contains("://") {
            Reference::new(ReferenceKind::Uri, label)
        } else if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
            Reference::new(ReferenceKind::Note, label)
        } else {
            Reference::new(ReferenceKind::Text, label)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_to_the_second() {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_724_870_243);
        assert_eq!(utc_timestamp(time), "2024-08-28T18:37:23Z");
    }

    #[test]
    fn a_date_turns_back_into_its_first_moment() {
        for days in [0_u64, 59, 60, 365, 10_957, 19_963, 20_000, 40_000] {
            let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(days * 86_400);
            assert_eq!(RegistryDate::of(time).to_system_time(), time, "day {days}");
        }
        let month: RegistryDate = "2026-03".parse().unwrap();
        assert_eq!(
            RegistryDate::of(month.to_system_time()).as_str(),
            "2026-03-01"
        );
    }

    #[test]
    fn dates_of_times() {
        assert_eq!(
            RegistryDate::of(std::time::UNIX_EPOCH).as_str(),
            "1970-01-01"
        );
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_724_870_243);
        assert_eq!(RegistryDate::of(time).as_str(), "2024-08-28");
    }

    #[test]
    fn dates_take_both_precisions() {
        assert!("2026-02".parse::<RegistryDate>().is_ok());
        assert!("2026-02-13".parse::<RegistryDate>().is_ok());
        assert!("2026-13".parse::<RegistryDate>().is_err());
        assert!("26-02-13".parse::<RegistryDate>().is_err());
        // Days the calendar has, and none it has not.
        for real in ["2016-02-29", "2000-02-29", "2015-04-30", "2015-12-31"] {
            assert!(real.parse::<RegistryDate>().is_ok(), "{real}");
        }
        for impossible in [
            "2015-02-29",
            "1900-02-29",
            "2019-02-30",
            "2016-06-31",
            "2016-04-31",
        ] {
            assert!(impossible.parse::<RegistryDate>().is_err(), "{impossible}");
        }
    }

    #[test]
    fn reference_labels_take_any_text() {
        // Found by fuzzing: a multi-byte character straddling the "RFC" prefix.
        assert_eq!(
            Reference::from_label("RF\u{b5}C-x").kind,
            ReferenceKind::Text
        );
    }

    #[test]
    fn reference_labels_round_trip() {
        for label in [
            "RFC6335",
            "RFC-ietf-lamps-rfc5273bis-10",
            "http://x.org/a",
            "1",
            "ISO/IEC 13818-6",
        ] {
            assert_eq!(Reference::from_label(label).label(), label);
        }
    }

    #[test]
    fn nameless_rows_get_their_status() {
        let row = |description: &str| Record {
            description: Some(description.into()),
            ..Record::default()
        };
        assert_eq!(row("Unassigned").derive_status(), Status::Unassigned);
        assert_eq!(
            row("any private mail system").derive_status(),
            Status::Private
        );
        assert_eq!(row("Reserved").derive_status(), Status::Reserved);
        let named = Record {
            name: Some("x".into()),
            ..row("Reserved")
        };
        assert_eq!(named.derive_status(), Status::Assigned);
    }
}

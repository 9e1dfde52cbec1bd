//! Whether a new registry may replace the one in use: the checks of `portreg update`,
//! and of the generator of the embedded registry.

use std::collections::HashSet;

use crate::compiled::CompiledRegistry;
use crate::port_range::PortSpan;
use crate::record::RegistryDate;
use crate::registry::Registry;
use crate::transport::Transport;

/// The largest registry input portreg reads, from a file, standard input or a download
/// (IANA's XML is about 4 MB).
pub const MAX_REGISTRY_BYTES: u64 = 64 * 1024 * 1024;

/// The share of the registry in use that a new one must keep: of its distinct
/// (name, port, transport) entries, and of its service names.
const MIN_SHARE: f64 = 0.9;

/// Why a new registry may not replace the one in use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplacementRefused {
    /// Too few distinct entries: a file of copies of one record, or a cut-down list.
    #[error(
        "it has {found} distinct (name, port, transport) entries, fewer than 90% of the {in_use} of the registry in use"
    )]
    TooFewEntries {
        /// Distinct entries of the new registry.
        found: usize,
        /// Distinct entries of the registry in use.
        in_use: usize,
    },
    /// It drops many of the names in use.
    #[error("it drops {lost} of the {in_use} service names in use (such as {example})")]
    NamesLost {
        /// Names in use that the new registry lacks.
        lost: usize,
        /// Names in use.
        in_use: usize,
        /// One of them.
        example: String,
    },
    /// Dated after tomorrow: a clock that far off, or a forged date that would make every
    /// genuine registry look older.
    #[error("it is dated {date}, in the future (today is {today})")]
    Future {
        /// Its date.
        date: RegistryDate,
        /// Today, UTC.
        today: RegistryDate,
    },
    /// Older than the registry in use.
    #[error(
        "it is of {new}, older than the registry in use ({old}); --allow-older installs it anyway"
    )]
    Older {
        /// Its date.
        new: RegistryDate,
        /// The date of the registry in use.
        old: RegistryDate,
    },
    /// It has no date.
    #[error("it says nothing of its date; --allow-older installs it anyway")]
    Undated,
}

/// Checks that `new` may replace `current`: it keeps at least 90% of the distinct
/// entries and of the service names in use, is not dated in the future (a day of clock
/// skew allowed), and, unless `allow_older`, is dated and not older.
pub fn check_replacement(
    new: &Registry,
    current: &CompiledRegistry,
    allow_older: bool,
) -> Result<(), ReplacementRefused> {
    let keys_new: HashSet<(Option<String>, Option<PortSpan>, Option<Transport>)> = new
        .records
        .iter()
        .map(|r| {
            (
                r.name.as_deref().map(str::to_lowercase),
                r.ports,
                r.transport.clone(),
            )
        })
        .collect();
    let keys_current: HashSet<(Option<String>, Option<PortSpan>, Option<Transport>)> = current
        .records()
        .map(|r| (r.name().map(str::to_lowercase), r.ports(), r.transport()))
        .collect();
    if (keys_new.len() as f64) < (keys_current.len() as f64 * MIN_SHARE).ceil() {
        return Err(ReplacementRefused::TooFewEntries {
            found: keys_new.len(),
            in_use: keys_current.len(),
        });
    }
    let names_new: HashSet<&str> = keys_new.iter().filter_map(|k| k.0.as_deref()).collect();
    let names_current: HashSet<&str> = keys_current.iter().filter_map(|k| k.0.as_deref()).collect();
    let mut lost: Vec<&str> = names_current.difference(&names_new).copied().collect();
    if (lost.len() as f64) > names_current.len() as f64 * (1.0 - MIN_SHARE) {
        lost.sort_unstable();
        return Err(ReplacementRefused::NamesLost {
            lost: lost.len(),
            in_use: names_current.len(),
            example: lost.first().map_or_else(String::new, |n| (*n).to_owned()),
        });
    }
    let today = RegistryDate::today();
    let tomorrow =
        RegistryDate::of(std::time::SystemTime::now() + std::time::Duration::from_secs(86_400));
    if let Some(date) = &new.meta.updated {
        if *date > tomorrow {
            return Err(ReplacementRefused::Future {
                date: date.clone(),
                today,
            });
        }
    }
    match (&new.meta.updated, current.updated()) {
        _ if allow_older => Ok(()),
        (Some(new), Some(old)) if *new < old => Err(ReplacementRefused::Older {
            new: new.clone(),
            old,
        }),
        (None, _) => Err(ReplacementRefused::Undated),
        _ => Ok(()),
    }
}

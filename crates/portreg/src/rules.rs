//! The rules of RFC 6335: service-name syntax, case-insensitive uniqueness, the port
//! ranges and how each is assigned.

use std::fmt;

use crate::port_range::RangeClass;

/// The longest valid service name (RFC 6335 §5.1).
pub const MAX_NAME_LENGTH: usize = 15;

/// Ports the registry lists as Reserved on every transport by RFC 6335: 0, the first
/// User port and the last one. portreg treats them as never free even where a source
/// (a services file) does not list them.
pub const RESERVED_PORTS: [u16; 3] = [0, 1024, 49151];

/// One way a service name breaks RFC 6335 §5.1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// Longer than 15 characters.
    TooLong {
        /// Its length in characters.
        length: usize,
    },
    /// A character other than `A-Z a-z 0-9 -`.
    Character {
        /// The character.
        character: char,
        /// Its 1-based position.
        position: usize,
    },
    /// Starts with a hyphen.
    LeadingHyphen,
    /// Ends with a hyphen.
    TrailingHyphen,
    /// Two hyphens side by side.
    AdjacentHyphens {
        /// 1-based position of the second hyphen.
        position: usize,
    },
    /// No letter at all.
    NoLetter,
}

impl NameProblem {
    /// A short stable code for JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            NameProblem::Empty => "empty",
            NameProblem::TooLong { .. } => "length",
            NameProblem::Character { .. } => "character",
            NameProblem::LeadingHyphen => "leading-hyphen",
            NameProblem::TrailingHyphen => "trailing-hyphen",
            NameProblem::AdjacentHyphens { .. } => "adjacent-hyphens",
            NameProblem::NoLetter => "no-letter",
        }
    }
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => write!(f, "a service name must not be empty"),
            NameProblem::TooLong { length } => {
                write!(f, "{length} characters long; a service name has at most {MAX_NAME_LENGTH}")
            }
            NameProblem::Character { character, position } => write!(
                f,
                "character {character:?} at position {position}; only letters A-Z a-z, digits 0-9 and '-' are allowed"
            ),
            NameProblem::LeadingHyphen => write!(f, "starts with a hyphen"),
            NameProblem::TrailingHyphen => write!(f, "ends with a hyphen"),
            NameProblem::AdjacentHyphens { position } => write!(f, "two hyphens side by side at position {position}"),
            NameProblem::NoLetter => write!(f, "has no letter; a service name needs at least one"),
        }
    }
}

/// Every way `name` breaks the RFC 6335 syntax; empty when it is valid.
pub fn check_service_name(name: &str) -> Vec<NameProblem> {
    let mut problems = Vec::new();
    if name.is_empty() {
        problems.push(NameProblem::Empty);
        return problems;
    }
    let length = name.chars().count();
    if length > MAX_NAME_LENGTH {
        problems.push(NameProblem::TooLong { length });
    }
    let mut previous_hyphen = false;
    for (index, character) in name.chars().enumerate() {
        let position = index + 1;
        if !(character.is_ascii_alphanumeric() || character == '-') {
            problems.push(NameProblem::Character {
                character,
                position,
            });
        }
        if character == '-' && previous_hyphen {
            problems.push(NameProblem::AdjacentHyphens { position });
        }
        previous_hyphen = character == '-';
    }
    if name.starts_with('-') {
        problems.push(NameProblem::LeadingHyphen);
    }
    if name.ends_with('-') {
        problems.push(NameProblem::TrailingHyphen);
    }
    if !name.chars().any(|c| c.is_ascii_alphabetic()) {
        problems.push(NameProblem::NoLetter);
    }
    problems
}

/// Whether two service names are the same name: RFC 6335 compares them case-insensitively.
pub fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// How ports of a range are assigned (RFC 6335 §8.1.2, procedures of RFC 8126).
pub fn procedure(class: RangeClass) -> &'static str {
    match class {
        RangeClass::System => "IETF Review or IESG Approval",
        RangeClass::User => "IETF Review, IESG Approval, or Expert Review",
        RangeClass::Dynamic => "never assigned: for dynamic and private use",
    }
}

/// The range, its name in the legacy list, and how it is assigned.
pub fn describe(class: RangeClass) -> (&'static str, &'static str) {
    match class {
        RangeClass::System => ("System Ports (Well Known Ports)", procedure(class)),
        RangeClass::User => ("User Ports (Registered Ports)", procedure(class)),
        RangeClass::Dynamic => ("Dynamic and/or Private Ports", procedure(class)),
    }
}

/// Whether RFC 6335 reserves the port on every transport.
pub fn is_reserved(port: u16) -> bool {
    RESERVED_PORTS.contains(&port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_have_no_problem() {
        for name in [
            "ssh",
            "http",
            "x11",
            "a",
            "abcdefghijklmno",
            "9pfs",
            "z39-50",
            "A-b-C",
        ] {
            assert_eq!(check_service_name(name), [], "{name}");
        }
    }

    #[test]
    fn each_rule_has_its_reason() {
        assert_eq!(check_service_name(""), [NameProblem::Empty]);
        assert_eq!(
            check_service_name("abcdefghijklmnop"),
            [NameProblem::TooLong { length: 16 }]
        );
        assert_eq!(
            check_service_name("whois++"),
            [
                NameProblem::Character {
                    character: '+',
                    position: 6
                },
                NameProblem::Character {
                    character: '+',
                    position: 7
                },
            ]
        );
        assert_eq!(check_service_name("-ab"), [NameProblem::LeadingHyphen]);
        assert_eq!(check_service_name("ab-"), [NameProblem::TrailingHyphen]);
        assert_eq!(
            check_service_name("a--b"),
            [NameProblem::AdjacentHyphens { position: 3 }]
        );
        assert_eq!(check_service_name("914"), [NameProblem::NoLetter]);
        assert!(same_name("SSH", "ssh"));
    }

    #[test]
    fn procedures_follow_the_ranges() {
        assert_eq!(
            procedure(RangeClass::of(80)),
            "IETF Review or IESG Approval"
        );
        assert!(procedure(RangeClass::of(8080)).contains("Expert Review"));
        assert!(procedure(RangeClass::of(50000)).starts_with("never assigned"));
        assert!(is_reserved(0) && is_reserved(1024) && !is_reserved(22));
    }
}

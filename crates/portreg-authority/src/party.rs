//! People compared as people are: two spellings that a reader would take for the same
//! name or address are the same party. A name is folded by NFKC, lower-casing and the
//! confusable skeleton of Unicode TR39 (which also drops default-ignorable characters such
//! as zero-width spaces and joiners), then split into words on `_`, `-`, `.` and spaces;
//! an address drops its `+tag` and folds its local part and domain the same way.

use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, MixedScript};

use crate::{AuthorityError, Result};

/// `text` folded for comparison: `ＡＬＩＣＥ`, `аlice` (Cyrillic а), `al\u{200b}ice` and
/// `álice` all fold to the same string. Accents go first (NFD, then marks dropped).
pub fn fold(text: &str) -> String {
    let lowered: String = unaccented(text).to_lowercase();
    // The skeleton maps confusables to a prototype that may be upper-case or compose
    // differently; lower-casing and NFKC again make the result stable.
    settle(unicode_security::skeleton(&lowered).collect())
}

/// `text` folded in TR39's order, the skeleton before case: `aIice` (a capital I) is
/// `alice` here, where [`fold`], lower-casing first, keeps it apart.
pub fn fold_as_seen(text: &str) -> String {
    settle(unicode_security::skeleton(&unaccented(text)).collect())
}

/// NFKC (fullwidth and compatibility forms), then NFD with the combining marks dropped.
fn unaccented(text: &str) -> String {
    text.nfkc()
        .collect::<String>()
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect()
}

fn settle(text: String) -> String {
    text.nfkc().collect::<String>().to_lowercase()
}

/// The words of a name, folded: `Alice_Smith` is `["alice", "smith"]`.
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A provider's rule of addresses it delivers alike, applied when told
/// ([`set_address_rules`]): none by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressRule {
    /// Dots in a local part at this domain (folded) do not count: `a.lice@gmail.com` is
    /// `alice@gmail.com`.
    IgnoreDots(String),
    /// This character starts a tag, as `+` does: `alice-x@` is `alice@`.
    Tag(char),
}

impl std::str::FromStr for AddressRule {
    type Err = String;

    /// `dots@DOMAIN` or `tag=C`.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        if let Some(domain) = text.strip_prefix("dots@").filter(|d| !d.is_empty()) {
            return idna::domain_to_ascii(domain)
                .map(|d| AddressRule::IgnoreDots(fold(&d)))
                .map_err(|_| format!("{text:?}: {domain:?} is no domain"));
        }
        let mut tag = text.strip_prefix("tag=").unwrap_or("").chars();
        match (tag.next(), tag.next()) {
            (Some(c), None) if !c.is_alphanumeric() && c != '@' => Ok(AddressRule::Tag(c)),
            _ => Err(format!(
                "{text:?}: expected dots@DOMAIN or tag=C (one character, not a letter or digit)"
            )),
        }
    }
}

static ADDRESS_RULES: std::sync::RwLock<Vec<AddressRule>> = std::sync::RwLock::new(Vec::new());

/// The providers' rules this process compares addresses by, for good (a server's or a
/// command's `--same-address`).
pub fn set_address_rules(rules: Vec<AddressRule>) {
    if let Ok(mut kept) = ADDRESS_RULES.write() {
        *kept = rules;
    }
}

/// An address folded: its local part (unquoted, without a `+tag`) and its domain (by
/// UTS 46: `。` is a dot, Unicode and punycode are one), each folded. `mailto:`, angle
/// brackets and fullwidth forms (`＠`) are read through. `None` for text that is no
/// address.
pub fn fold_email(text: &str) -> Option<(String, String)> {
    let rules = ADDRESS_RULES.read().map(|r| r.clone()).unwrap_or_default();
    fold_address(text, &rules)
}

/// As [`fold_email`], by the providers' rules `rules`.
fn fold_address(text: &str, rules: &[AddressRule]) -> Option<(String, String)> {
    let text: String = text.nfkc().collect();
    let text = text.trim().trim_start_matches('<').trim_end_matches('>');
    let text = match text.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &text[7..],
        _ => text,
    };
    let (local, domain) = text.rsplit_once('@')?;
    let local = local
        .strip_prefix('"')
        .and_then(|quoted| quoted.strip_suffix('"'))
        .unwrap_or(local);
    let tags: Vec<char> = std::iter::once('+')
        .chain(rules.iter().filter_map(|rule| match rule {
            AddressRule::Tag(c) => Some(*c),
            AddressRule::IgnoreDots(_) => None,
        }))
        .collect();
    let local = local.split(tags.as_slice()).next().unwrap_or(local);
    let domain = idna::domain_to_ascii(domain).ok()?;
    let (mut local, domain) = (fold(local), fold(domain.trim_end_matches('.')));
    if rules.contains(&AddressRule::IgnoreDots(domain.clone())) {
        local.retain(|c| c != '.');
    }
    (!local.is_empty() && !domain.is_empty()).then_some((local, domain))
}

/// The addresses a person's text holds (`Ada <ada@example.org>`, `ada@example.org`,
/// `"ada"@example.org`, `mailto:ada@example.org`).
fn emails(text: &str) -> Vec<(String, String)> {
    text.split(|c: char| c.is_whitespace() || ",;<>()[]'".contains(c))
        .filter_map(fold_email)
        .collect()
}

/// Who a party is, folded once: the identity's name as words and its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Party {
    name: Vec<String>,
    /// The whole name as it is seen ([`fold_as_seen`]).
    seen: String,
    email: Option<(String, String)>,
}

impl Party {
    /// An identity with `name` and maybe an address.
    pub fn new(name: &str, email: Option<&str>) -> Party {
        Party {
            name: words(name),
            seen: fold_as_seen(name),
            email: email.and_then(fold_email),
        }
    }

    /// Whether `person` (a name, an address, or both, as a request's assignee or contact
    /// is written) names this party: its name's words stand in the person's words (an
    /// address's local part counts as words), or its address is one of the person's.
    pub fn is_named_in(&self, person: &str) -> bool {
        let addresses = emails(person);
        if let Some(own) = &self.email {
            if addresses.iter().any(|address| address == own) {
                return true;
            }
        }
        if self.name.is_empty() {
            return false;
        }
        // Words outside addresses, and each address's local part.
        let mut spoken: Vec<Vec<String>> = vec![words(
            &person
                .split_whitespace()
                .filter(|token| !token.contains('@'))
                .collect::<Vec<_>>()
                .join(" "),
        )];
        spoken.extend(addresses.iter().map(|(local, _)| words(local)));
        // A name is its words in any order: `Smith, Alice` names `alice-smith`.
        spoken
            .iter()
            .any(|said| self.name.iter().all(|word| said.contains(word)))
    }

    /// Whether this party and `other` are the same by name or by address.
    pub fn same_as(&self, other: &Party) -> bool {
        (!self.name.is_empty() && (self.name == other.name || self.seen == other.seen))
            || (self.email.is_some() && self.email == other.email)
    }
}

/// Refuses text that mixes scripts (`pаypal` with a Cyrillic а) or holds characters that
/// are invisible or not meant for identifiers, naming the field.
pub fn check_identifier(field: &'static str, text: &str) -> Result<()> {
    let invalid = |reason: String| AuthorityError::Invalid { field, reason };
    if let Some(c) = text
        .chars()
        .find(|&c| !(c.is_ascii() || c.identifier_allowed()))
    {
        return Err(invalid(format!(
            "{text:?} holds {:?} (U+{:04X}), a character that is invisible or not allowed in identifiers",
            c, c as u32
        )));
    }
    for part in text.split(['@', '.', '-', '_', '+']) {
        if !part.is_single_script() {
            return Err(invalid(format!(
                "{text:?} mixes scripts in {part:?}: a name or address is written in one script"
            )));
        }
    }
    if text.nfc().collect::<String>() != text {
        return Err(invalid(format!("{text:?} is not in Unicode normal form C")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_identifier, fold, Party};

    #[test]
    fn look_alikes_fold_to_one_name() {
        for variant in [
            "ａlice",
            "аlice",
            "al\u{200b}ice",
            "A\u{200d}lice",
            "ALICE",
            "Alice",
            "álice",
        ] {
            assert_eq!(fold(variant), fold("alice"), "{variant:?}");
        }
        assert_eq!(super::fold_as_seen("aIice"), super::fold_as_seen("alice"));
        assert_eq!(fold("José"), fold("jose"));
    }

    #[test]
    fn a_party_is_named_by_any_spelling_of_its_name_or_address() {
        let alice = Party::new("alice", Some("alice@example.org"));
        for person in [
            "ａlice",
            "аlice",
            "al\u{200b}ice",
            "A\u{200d}lice",
            "Alice_Smith",
            "Dr. Alice Smith",
            "alice-smith",
            "alice+portreg@example.org",
            "alice@exаmple.org",
            "Someone <ALICE@EXAMPLE.ORG>",
            "alice@elsewhere.net",
            "\"alice\"@example.org",
            "mailto:alice@example.org",
            "alice＠example.org",
            "someone@example。org, alice",
            "Smith, Alice",
            "SMITH Alice",
        ] {
            assert!(alice.is_named_in(person), "{person:?}");
        }
        for address in [
            "\"alice\"@example.org",
            "mailto:ALICE@example.org",
            "alice＠example。org",
        ] {
            assert!(
                Party::new("x", Some("alice@example.org")).is_named_in(address),
                "{address}"
            );
        }
        // A domain in Unicode and in punycode is one domain, both ways.
        let unicode = Party::new("ana", Some("ana@bücher.example"));
        assert!(unicode.is_named_in("ana@xn--bcher-kva.example"));
        let punycode = Party::new("ana", Some("ana@xn--bcher-kva.example"));
        assert!(punycode.is_named_in("ANA@Bücher.example"));
        let smith = Party::new("alice-smith", None);
        for person in ["Smith, Alice", "SMITH Alice", "alice smith"] {
            assert!(smith.is_named_in(person), "{person:?}");
        }
    }

    #[test]
    fn providers_rules_apply_only_when_given() {
        use super::{fold_address, AddressRule};
        let rules: Vec<AddressRule> =
            vec!["dots@gmail.com".parse().unwrap(), "tag=-".parse().unwrap()];
        let alice = fold_address("alice.smith@gmail.com", &rules);
        assert_eq!(fold_address("alicesmith-work@GMAIL.com", &rules), alice);
        assert_ne!(
            fold_address("alicesmith-work@GMAIL.com", &[]),
            fold_address("alice.smith@gmail.com", &[])
        );
        assert_ne!(fold_address("alicesmith@example.org", &rules), alice);
        assert!("tag=ab".parse::<AddressRule>().is_err());
        assert!("dots@".parse::<AddressRule>().is_err());
    }

    #[test]
    fn other_people_stay_other_people() {
        let alice = Party::new("alice", Some("alice@example.org"));
        for person in [
            "Alicia",
            "Malice",
            "alice2",
            "Al Ice",
            "Bob",
            "bob@alice.org",
            "malice@example.org",
            "alice.smith@other.org@",
            "",
        ] {
            assert!(!alice.is_named_in(person), "{person:?}");
        }
        let alice_smith = Party::new("alice-smith", None);
        assert!(alice_smith.is_named_in("Alice Smith"));
        assert!(!alice_smith.is_named_in("Alice Jones"));
    }

    #[test]
    fn identities_are_the_same_by_folded_name_or_address() {
        let alice = Party::new("zq-alice", Some("zq-alice@example.org"));
        assert!(alice.same_as(&Party::new("ZQ-Alice", None)));
        assert!(alice.same_as(&Party::new("bob", Some("zq-alice+x@EXAMPLE.org"))));
        assert!(!alice.same_as(&Party::new("zq-alicia", Some("zq-alicia@example.org"))));
        // A capital I seen as an l.
        assert!(Party::new("alice", None).same_as(&Party::new("aIice", None)));
    }

    #[test]
    fn names_in_one_script_without_invisible_characters() {
        for good in [
            "ada",
            "zq-alice",
            "Åsa",
            "Ελένη",
            "ada@example.org",
            "李.雷",
        ] {
            assert!(check_identifier("name", good).is_ok(), "{good:?}");
        }
        for bad in ["pаypal", "al\u{200b}ice", "a\u{202e}b", "ada@exаmple.org"] {
            assert!(check_identifier("name", bad).is_err(), "{bad:?}");
        }
    }
}

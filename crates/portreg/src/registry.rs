//! A whole registry: metadata, records and people.

use crate::record::{Record, Reference, RegistryDate};

/// A registry as read from one file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Registry {
    /// Title, dates, notes and prose around the table.
    pub meta: Metadata,
    /// Every record, in source order.
    pub records: Vec<Record>,
    /// The people table that assignee and contact ids point into (IANA XML).
    pub people: Vec<Person>,
}

impl Registry {
    /// The person with this id.
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|person| person.id == id)
    }

    /// Adds the aliases `layer` gives a record (by its name in any case, its ports and
    /// its transport) to the same record here, where it lacks them: how the aliases that
    /// the built-in registry takes from netbase (`www` for `http`) stay with any IANA
    /// registry put in its place. Returns how many aliases were added.
    pub fn add_aliases_from(&mut self, layer: &crate::CompiledRegistry) -> usize {
        type Key = (String, Option<crate::PortSpan>, Option<crate::Transport>);
        let mut aliases: std::collections::HashMap<Key, Vec<&str>> =
            std::collections::HashMap::new();
        for record in layer.records() {
            let Some(name) = record.name() else { continue };
            let names: Vec<&str> = record.aliases().collect();
            if !names.is_empty() {
                aliases
                    .entry((name.to_lowercase(), record.ports(), record.transport()))
                    .or_default()
                    .extend(names);
            }
        }
        let mut added = 0;
        for record in &mut self.records {
            let Some(name) = &record.name else { continue };
            let key = (name.to_lowercase(), record.ports, record.transport.clone());
            for alias in aliases.get(&key).into_iter().flatten() {
                if !record.aliases.iter().any(|a| a.eq_ignore_ascii_case(alias)) {
                    record.aliases.push((*alias).to_owned());
                    added += 1;
                }
            }
        }
        added
    }
}

/// What a registry says about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// The IANA XML `registry/@id`.
    pub id: Option<String>,
    /// `Service Name and Transport Protocol Port Number Registry`.
    pub title: Option<String>,
    /// The IANA XML `<category>`.
    pub category: Option<String>,
    /// When the registry was last updated.
    pub updated: Option<RegistryDate>,
    /// Registry-level references (`<xref type="rfc" data="rfc6335"/>`).
    pub references: Vec<Reference>,
    /// The designated experts.
    pub expert: Option<String>,
    /// Registry notes; the text keeps the IANA XML inner markup.
    pub notes: Vec<Note>,
    /// Footnotes that records point to with `note` references.
    pub footnotes: Vec<Footnote>,
    /// The legacy file's date line as written (`(last updated 2008-02-29)`).
    pub legacy_updated: Option<String>,
    /// Legacy prose (header paragraphs, section titles, the REFERENCES section).
    pub prose: Vec<Prose>,
    /// For a registry an authority published: the head of its audit chain then
    /// (`ID:SHA256`), naming the exact history the registry came from.
    pub audit_head: Option<String>,
}

/// A registry note.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Note {
    /// The note's title, if any (`Request an Assignment`).
    pub title: Option<String>,
    /// The note's inner XML markup, as written.
    pub markup: String,
}

/// A registry footnote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Footnote {
    /// The anchor that `note` references name (`1`).
    pub anchor: String,
    /// The footnote's text.
    pub text: String,
}

/// A block of legacy prose and where it stands among the records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prose {
    /// How many records come before it.
    pub before_record: usize,
    /// Its lines, joined with `\n`.
    pub text: String,
}

/// A person or organisation of the people table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Person {
    /// The id records use (`Jon_Postel`).
    pub id: String,
    /// The person's name.
    pub name: Option<String>,
    /// The organisation.
    pub org: Option<String>,
    /// Contact URI, usually `mailto:` with `&` standing for `@`.
    pub uri: Option<String>,
    /// When the entry was last updated.
    pub updated: Option<RegistryDate>,
}

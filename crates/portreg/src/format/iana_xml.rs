//! IANA's XML, the master form of the registry.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::escape::{escape, unescape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::port_range::PortSpan;
use crate::record::{Record, Reference, ReferenceKind, RegistryDate};
use crate::registry::{Footnote, Metadata, Note, Person, Registry};

const NAMESPACE: &str = "http://www.iana.org/assignments";

type Events<'a> = Reader<&'a [u8]>;

pub(super) fn read(text: &str, diagnostics: &mut Diagnostics) -> Result<Registry, Diagnostic> {
    let mut reader = Reader::from_str(text);
    let mut registry = Registry::default();
    let mut seen_registry = false;
    loop {
        let offset = reader.buffer_position() as usize;
        match next(&mut reader, text)? {
            Event::Start(start) if local(&start) == "registry" => {
                seen_registry = true;
                registry.meta.id = attribute(&start, "id", text, offset)?;
            }
            Event::Start(start) => {
                let name = local(&start);
                match name.as_str() {
                    "title" => registry.meta.title = Some(element_text(&mut reader, &start, text)?),
                    "category" => {
                        registry.meta.category = Some(element_text(&mut reader, &start, text)?)
                    }
                    "updated" => {
                        registry.meta.updated = Some(date(
                            &element_text(&mut reader, &start, text)?,
                            text,
                            offset,
                        )?)
                    }
                    "expert" => {
                        registry.meta.expert = Some(element_text(&mut reader, &start, text)?)
                    }
                    "audit-head" => {
                        registry.meta.audit_head = Some(element_text(&mut reader, &start, text)?)
                    }
                    "xref" => {
                        let reference = reference(&mut reader, &start, text, offset)?;
                        registry.meta.references.push(reference);
                    }
                    "note" => {
                        let title = attribute(&start, "title", text, offset)?;
                        let markup = inner(&mut reader, &start, text)?.to_owned();
                        registry.meta.notes.push(Note { title, markup });
                    }
                    "footnote" => {
                        let anchor = attribute(&start, "anchor", text, offset)?.unwrap_or_default();
                        registry.meta.footnotes.push(Footnote {
                            anchor,
                            text: element_text(&mut reader, &start, text)?,
                        });
                    }
                    "record" => match record(&mut reader, &start, text, offset) {
                        Ok(record) => registry.records.push(record),
                        Err(problem) => {
                            diagnostics.skip(problem)?;
                            skip_to_end(&mut reader, "record", text)?;
                        }
                    },
                    "person" => match person(&mut reader, &start, text, offset) {
                        Ok(person) => registry.people.push(person),
                        Err(problem) => {
                            diagnostics.skip(problem)?;
                            skip_to_end(&mut reader, "person", text)?;
                        }
                    },
                    "people" => {}
                    _ => {
                        diagnostics.skip(Diagnostic::at_offset(
                            text,
                            offset,
                            "a registry element",
                            &format!("<{name}>"),
                        ))?;
                        reader
                            .read_to_end(start.name())
                            .map_err(|e| xml_error(&reader, text, e))?;
                    }
                }
            }
            Event::Empty(start) if local(&start) == "xref" => {
                registry
                    .meta
                    .references
                    .push(reference_from_attributes(&start, None, text, offset)?);
            }
            Event::Empty(start) if local(&start) == "name" => {}
            Event::Empty(start) => {
                let name = local(&start);
                diagnostics.skip(Diagnostic::at_offset(
                    text,
                    offset,
                    "a registry element",
                    &format!("<{name}/>"),
                ))?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_registry {
        return Err(Diagnostic::at_offset(
            text,
            0,
            "an IANA <registry> document",
            text.trim_start().lines().next().unwrap_or(""),
        ));
    }
    Ok(registry)
}

fn next<'a>(reader: &mut Events<'a>, text: &str) -> Result<Event<'a>, Diagnostic> {
    reader.read_event().map_err(|e| xml_error(reader, text, e))
}

fn xml_error(reader: &Events<'_>, text: &str, error: quick_xml::Error) -> Diagnostic {
    let offset = reader.error_position() as usize;
    let rest = text
        .get(offset..)
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("");
    Diagnostic::at_offset(text, offset, format!("well-formed XML ({error})"), rest)
}

fn local(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

fn attribute(
    start: &BytesStart<'_>,
    key: &str,
    text: &str,
    offset: usize,
) -> Result<Option<String>, Diagnostic> {
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| {
            Diagnostic::at_offset(text, offset, format!("well-formed attributes ({e})"), "")
        })?;
        if attribute.key.local_name().as_ref() == key.as_bytes() {
            let value = attribute.unescape_value().map_err(|e| {
                Diagnostic::at_offset(text, offset, format!("a valid attribute value ({e})"), key)
            })?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// The raw inner markup of an element whose start tag was just read.
fn inner<'a>(
    reader: &mut Events<'a>,
    start: &BytesStart<'_>,
    text: &str,
) -> Result<&'a str, Diagnostic> {
    let raw = reader
        .read_text(start.name())
        .map_err(|e| xml_error(reader, text, e))?;
    match raw {
        Cow::Borrowed(raw) => Ok(raw),
        // from_str readers borrow; an owned value would mean a decoding step we never ask for
        Cow::Owned(_) => Err(Diagnostic::at_offset(
            text,
            reader.buffer_position() as usize,
            "UTF-8 text",
            "",
        )),
    }
}

/// The unescaped text of a text-only element.
fn element_text(
    reader: &mut Events<'_>,
    start: &BytesStart<'_>,
    text: &str,
) -> Result<String, Diagnostic> {
    let offset = reader.buffer_position() as usize;
    let raw = inner(reader, start, text)?;
    if raw.contains('<') && !raw.contains("<![CDATA[") {
        return Err(Diagnostic::at_offset(
            text,
            offset,
            format!("text only inside <{}>", local(start)),
            raw,
        ));
    }
    unescape(raw)
        .map(Cow::into_owned)
        .map_err(|e| Diagnostic::at_offset(text, offset, format!("a known entity ({e})"), raw))
}

fn skip_to_end(reader: &mut Events<'_>, element: &str, text: &str) -> Result<(), Diagnostic> {
    reader
        .read_to_end(quick_xml::name::QName(element.as_bytes()))
        .map_err(|e| xml_error(reader, text, e))?;
    Ok(())
}

fn date(value: &str, text: &str, offset: usize) -> Result<RegistryDate, Diagnostic> {
    value
        .trim()
        .parse()
        .map_err(|_| Diagnostic::at_offset(text, offset, "a date YYYY-MM or YYYY-MM-DD", value))
}

fn reference(
    reader: &mut Events<'_>,
    start: &BytesStart<'_>,
    text: &str,
    offset: usize,
) -> Result<Reference, Diagnostic> {
    let content = unwrap_soft_breaks(&element_text(reader, start, text)?);
    let mut reference = reference_from_attributes(start, Some(content.clone()), text, offset)?;
    if reference.data != content && !content.is_empty() {
        reference.title = Some(content);
    }
    Ok(reference)
}

fn reference_from_attributes(
    start: &BytesStart<'_>,
    content: Option<String>,
    text: &str,
    offset: usize,
) -> Result<Reference, Diagnostic> {
    let kind_name = attribute(start, "type", text, offset)?.unwrap_or_default();
    let kind = ReferenceKind::from_xml_type(&kind_name).ok_or_else(|| {
        Diagnostic::at_offset(
            text,
            offset,
            "an xref type of rfc, draft, uri, text, note or person",
            &kind_name,
        )
    })?;
    let data = match attribute(start, "data", text, offset)? {
        Some(data) => data,
        None => content.unwrap_or_default(),
    };
    Ok(Reference::new(kind, data))
}

fn record(
    reader: &mut Events<'_>,
    start: &BytesStart<'_>,
    text: &str,
    offset: usize,
) -> Result<Record, Diagnostic> {
    let mut record = Record {
        registered: attribute(start, "date", text, offset)?
            .map(|d| date(&d, text, offset))
            .transpose()?,
        modified: attribute(start, "updated", text, offset)?
            .map(|d| date(&d, text, offset))
            .transpose()?,
        ..Record::default()
    };
    let (mut description, mut note, mut unauthorized) = (None, None, None);
    loop {
        let offset = reader.buffer_position() as usize;
        match next(reader, text)? {
            Event::Start(child) => {
                let name = local(&child);
                match name.as_str() {
                    "name" => {
                        record.name = Some(element_text(reader, &child, text)?.trim().to_owned())
                            .filter(|n| !n.is_empty())
                    }
                    "protocol" => {
                        let value = element_text(reader, &child, text)?;
                        let value = value.trim();
                        if !value.is_empty() {
                            record.transport = Some(value.parse().map_err(|_| {
                                Diagnostic::at_offset(text, offset, "a transport protocol", value)
                            })?);
                        }
                    }
                    "number" => {
                        let value = element_text(reader, &child, text)?;
                        let value = value.trim();
                        if !value.is_empty() {
                            let span: PortSpan = value.parse().map_err(|e| {
                                Diagnostic::at_offset(text, offset, format!("{e}"), value)
                            })?;
                            record.ports = Some(span);
                            if span.to_string() != value {
                                record.extra.ports_as_written = Some(value.to_owned());
                            }
                        }
                    }
                    "description" => description = Some((inner(reader, &child, text)?, offset)),
                    "note" => note = Some((inner(reader, &child, text)?, offset)),
                    "unauthorized" => unauthorized = Some((inner(reader, &child, text)?, offset)),
                    "sc" => {
                        record.service_code =
                            Some(element_text(reader, &child, text)?.trim().to_owned())
                    }
                    "xref" => add_reference(&mut record, reference(reader, &child, text, offset)?),
                    "assignee" => assignees(reader, &mut record, text)?,
                    _ => {
                        return Err(Diagnostic::at_offset(
                            text,
                            offset,
                            "a record field",
                            &format!("<{name}>"),
                        ))
                    }
                }
            }
            Event::Empty(child) => match local(&child).as_str() {
                "xref" => add_reference(
                    &mut record,
                    reference_from_attributes(&child, None, text, offset)?,
                ),
                "name" | "protocol" | "number" | "description" | "note" | "sc" | "unauthorized"
                | "assignee" => {}
                other => {
                    return Err(Diagnostic::at_offset(
                        text,
                        offset,
                        "a record field",
                        &format!("<{other}/>"),
                    ))
                }
            },
            Event::End(_) => break,
            Event::Eof => {
                return Err(Diagnostic::at_offset(
                    text,
                    offset,
                    "</record>",
                    "end of file",
                ))
            }
            _ => {}
        }
    }
    if let Some((markup, offset)) = description {
        let (plain, markup) = rich_text(markup, text, offset)?;
        record.description = Some(plain);
        record.extra.description_markup = markup;
    }
    if let Some((markup, offset)) = note {
        let (plain, markup) = rich_text(markup, text, offset)?;
        record.notes = Some(plain);
        record.extra.notes_markup = markup;
    }
    if let Some((markup, offset)) = unauthorized {
        record.unauthorized_use = Some(rich_text(markup, text, offset)?.0);
    }
    record.status = record.derive_status();
    Ok(record)
}

fn add_reference(record: &mut Record, reference: Reference) {
    if reference.kind == ReferenceKind::Person {
        record.contacts.push(reference.data);
    } else {
        record.references.push(reference);
    }
}

fn assignees(reader: &mut Events<'_>, record: &mut Record, text: &str) -> Result<(), Diagnostic> {
    loop {
        let offset = reader.buffer_position() as usize;
        match next(reader, text)? {
            Event::Empty(child) if local(&child) == "xref" => {
                record
                    .assignees
                    .push(reference_from_attributes(&child, None, text, offset)?.data);
            }
            Event::Start(child) if local(&child) == "xref" => {
                record
                    .assignees
                    .push(reference(reader, &child, text, offset)?.data);
            }
            Event::End(_) => return Ok(()),
            Event::Eof => {
                return Err(Diagnostic::at_offset(
                    text,
                    offset,
                    "</assignee>",
                    "end of file",
                ))
            }
            Event::Text(_) => {}
            _ => {
                return Err(Diagnostic::at_offset(
                    text,
                    offset,
                    "a person xref inside <assignee>",
                    "",
                ))
            }
        }
    }
}

fn person(
    reader: &mut Events<'_>,
    start: &BytesStart<'_>,
    text: &str,
    offset: usize,
) -> Result<Person, Diagnostic> {
    let mut person = Person {
        id: attribute(start, "id", text, offset)?.ok_or_else(|| {
            Diagnostic::at_offset(text, offset, "a person id attribute", "<person>")
        })?,
        ..Person::default()
    };
    loop {
        let offset = reader.buffer_position() as usize;
        match next(reader, text)? {
            Event::Start(child) => {
                let value = element_text(reader, &child, text)?;
                match local(&child).as_str() {
                    "name" => person.name = Some(value),
                    "org" => person.org = Some(value),
                    "uri" => person.uri = Some(value),
                    "updated" => person.updated = Some(date(&value, text, offset)?),
                    other => {
                        return Err(Diagnostic::at_offset(
                            text,
                            offset,
                            "a person field",
                            &format!("<{other}>"),
                        ))
                    }
                }
            }
            Event::End(_) => return Ok(person),
            Event::Eof => {
                return Err(Diagnostic::at_offset(
                    text,
                    offset,
                    "</person>",
                    "end of file",
                ))
            }
            _ => {}
        }
    }
}

/// Plain text of mixed content as IANA's CSV renders it, and the raw markup when the
/// plain text alone would not give it back.
fn rich_text(
    markup: &str,
    text: &str,
    offset: usize,
) -> Result<(String, Option<String>), Diagnostic> {
    let plain =
        render_markup(markup).map_err(|e| Diagnostic::at_offset(text, offset, e, markup))?;
    let same = !markup.contains('<') && unescape(markup).is_ok_and(|raw| raw == plain);
    Ok((plain, (!same).then(|| markup.to_owned())))
}

/// Renders mixed content as IANA's CSV does: a run of `<br/>` is one line break,
/// paragraphs are joined by a break and an indent, an inline `<xref>` is its bracketed
/// label, a line ending in a space before an indented line is a soft wrap, and the
/// whole is trimmed.
pub(super) fn render_markup(markup: &str) -> Result<String, String> {
    let mut reader = Reader::from_str(markup);
    let mut plain = String::new();
    let mut paragraphs = 0;
    let mut in_break = false;
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("well-formed markup ({e})"))?
        {
            Event::Text(t) => {
                let piece = t.unescape().map_err(|e| format!("a known entity ({e})"))?;
                if paragraphs > 0 && piece.trim().is_empty() {
                    continue;
                }
                let piece = if in_break {
                    piece.strip_prefix('\n').unwrap_or(&piece)
                } else {
                    &piece
                };
                if !piece.trim().is_empty() {
                    in_break = false;
                    plain.push_str(piece);
                }
            }
            Event::CData(t) => plain.push_str(&String::from_utf8_lossy(&t)),
            Event::Start(e) if e.local_name().as_ref() == b"paragraph" => {
                if paragraphs > 0 {
                    plain.push_str("\n              ");
                }
                paragraphs += 1;
            }
            Event::Empty(e) | Event::Start(e) if e.local_name().as_ref() == b"xref" => {
                let value = |key: &str| {
                    e.try_get_attribute(key)
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok().map(Cow::into_owned))
                };
                let kind = value("type")
                    .and_then(|t| ReferenceKind::from_xml_type(&t))
                    .unwrap_or(ReferenceKind::Text);
                let _ = write!(
                    plain,
                    "[{}]",
                    Reference::new(kind, value("data").unwrap_or_default()).label()
                );
            }
            Event::Empty(e) if e.local_name().as_ref() == b"br" && !in_break => {
                plain.push('\n');
                in_break = true;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(unwrap_soft_breaks(plain.trim()))
}

/// Joins a line that ends in a space with the next one when that one is indented,
/// dropping the indent.
fn unwrap_soft_breaks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" \n") {
        let next = &rest[at + 2..];
        let indent = next.len() - next.trim_start_matches([' ', '\t']).len();
        if indent == 0 {
            out.push_str(&rest[..at + 2]);
        } else {
            out.push_str(&rest[..at + 1]);
        }
        rest = &next[indent..];
    }
    out.push_str(rest);
    out
}

pub(super) fn write(registry: &Registry) -> String {
    let mut out = String::from("<?xml version='1.0' encoding='UTF-8'?>\n");
    let meta = &registry.meta;
    match &meta.id {
        Some(id) => {
            let _ = writeln!(
                out,
                "<registry xmlns=\"{NAMESPACE}\" id=\"{}\">",
                escape(id.as_str())
            );
        }
        None => {
            let _ = writeln!(out, "<registry xmlns=\"{NAMESPACE}\">");
        }
    }
    write_meta(&mut out, meta);
    for record in &registry.records {
        write_record(&mut out, record);
    }
    for footnote in &meta.footnotes {
        let _ = writeln!(
            out,
            "  <footnote anchor=\"{}\">{}</footnote>",
            escape(footnote.anchor.as_str()),
            escape(footnote.text.as_str())
        );
    }
    if !registry.people.is_empty() {
        out.push_str("  <people>\n");
        for person in &registry.people {
            let _ = writeln!(out, "    <person id=\"{}\">", escape(person.id.as_str()));
            element(&mut out, 6, "name", person.name.as_deref());
            element(&mut out, 6, "org", person.org.as_deref());
            element(&mut out, 6, "uri", person.uri.as_deref());
            element(
                &mut out,
                6,
                "updated",
                person.updated.as_ref().map(RegistryDate::as_str),
            );
            out.push_str("    </person>\n");
        }
        out.push_str("  </people>\n");
    }
    out.push_str("</registry>\n");
    out
}

fn write_meta(out: &mut String, meta: &Metadata) {
    element(out, 2, "title", meta.title.as_deref());
    element(out, 2, "category", meta.category.as_deref());
    element(
        out,
        2,
        "updated",
        meta.updated.as_ref().map(RegistryDate::as_str),
    );
    for reference in &meta.references {
        write_reference(out, 2, reference);
    }
    element(out, 2, "expert", meta.expert.as_deref());
    element(out, 2, "audit-head", meta.audit_head.as_deref());
    for note in &meta.notes {
        match &note.title {
            Some(title) => {
                let _ = writeln!(
                    out,
                    "  <note title=\"{}\">{}</note>",
                    escape(title.as_str()),
                    note.markup
                );
            }
            None => {
                let _ = writeln!(out, "  <note>{}</note>", note.markup);
            }
        }
    }
}

fn write_record(out: &mut String, record: &Record) {
    out.push_str("  <record");
    if let Some(date) = &record.registered {
        let _ = write!(out, " date=\"{date}\"");
    }
    if let Some(date) = &record.modified {
        let _ = write!(out, " updated=\"{date}\"");
    }
    out.push_str(">\n");
    element(out, 4, "name", record.name.as_deref());
    element(
        out,
        4,
        "protocol",
        record.transport.as_ref().map(|t| t.as_str()),
    );
    if !record.assignees.is_empty() {
        out.push_str("    <assignee>");
        for id in &record.assignees {
            let _ = write!(
                out,
                "<xref type=\"person\" data=\"{}\"/>",
                escape(id.as_str())
            );
        }
        out.push_str("</assignee>\n");
    }
    for id in &record.contacts {
        write_reference(out, 4, &Reference::new(ReferenceKind::Person, id.clone()));
    }
    rich_element(
        out,
        "description",
        record.description.as_deref(),
        record.extra.description_markup.as_deref(),
    );
    element(out, 4, "number", record.ports_text().as_deref());
    for reference in &record.references {
        write_reference(out, 4, reference);
    }
    element(out, 4, "unauthorized", record.unauthorized_use.as_deref());
    rich_element(
        out,
        "note",
        record.notes.as_deref(),
        record.extra.notes_markup.as_deref(),
    );
    element(out, 4, "sc", record.service_code.as_deref());
    out.push_str("  </record>\n");
}

fn element(out: &mut String, indent: usize, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        let _ = writeln!(out, "{:indent$}<{name}>{}</{name}>", "", escape(value));
    }
}

fn rich_element(out: &mut String, name: &str, plain: Option<&str>, markup: Option<&str>) {
    match (markup, plain) {
        (Some(markup), _) => {
            let _ = writeln!(out, "    <{name}>{markup}</{name}>");
        }
        (None, Some(plain)) => element(out, 4, name, Some(plain)),
        (None, None) => {}
    }
}

fn write_reference(out: &mut String, indent: usize, reference: &Reference) {
    let kind = reference.kind.as_str();
    if reference.kind == ReferenceKind::Text {
        let _ = writeln!(
            out,
            "{:indent$}<xref type=\"{kind}\">{}</xref>",
            "",
            escape(reference.data.as_str())
        );
    } else if let Some(title) = &reference.title {
        let (data, title) = (escape(reference.data.as_str()), escape(title.as_str()));
        let _ = writeln!(
            out,
            "{:indent$}<xref type=\"{kind}\" data=\"{data}\">{title}</xref>",
            ""
        );
    } else {
        let _ = writeln!(
            out,
            "{:indent$}<xref type=\"{kind}\" data=\"{}\"/>",
            "",
            escape(reference.data.as_str())
        );
    }
}

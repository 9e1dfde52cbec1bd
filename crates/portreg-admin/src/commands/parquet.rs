//! `portreg convert --to parquet`: the registry as one Parquet row per record, every field
//! typed, for DuckDB, Spark and ClickHouse. Here rather than in `portreg`, which hands
//! the command over, so that a lookup links no Arrow.
//!
//! | column | type |
//! |---|---|
//! | `name`, `transport`, `description`, `status`, `service_code`, `unauthorized_use`, `notes`, `range_class`, `source` | string |
//! | `port_low`, `port_high` | int32 |
//! | `aliases`, `assignees`, `contacts` | list of string |
//! | `registered`, `modified` | date (a month-only date, `2005-08`, is the month's first day) |
//! | `references` | list of struct `type`, `data`, `title` (strings) |
//!
//! The file's key-value metadata carries the registry's `updated` date and title.

use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{ArrayRef, Date32Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Fields};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use portreg::{Record, Registry, RegistryDate};

use portreg_cli::cli::ConvertArgs;
use portreg_cli::commands::convert::{read_registry, write_output};
use portreg_cli::{CommandResult, Exit};

/// Runs `convert --to parquet`.
pub fn run(args: &ConvertArgs) -> CommandResult {
    let registry = read_registry(args)?;
    let bytes = to_parquet(&registry).context("cannot write Parquet")?;
    write_output(args.output.as_deref(), &bytes)?;
    Ok(Exit::Success)
}

/// The registry as a Parquet file.
pub fn to_parquet(registry: &Registry) -> anyhow::Result<Vec<u8>> {
    let records = &registry.records;
    let text = |get: fn(&Record) -> Option<&str>| -> ArrayRef {
        Arc::new(records.iter().map(get).collect::<StringArray>())
    };
    let port = |get: fn(&Record) -> Option<u16>| -> ArrayRef {
        Arc::new(
            records
                .iter()
                .map(|r| get(r).map(i32::from))
                .collect::<Int32Array>(),
        )
    };
    let date = |get: fn(&Record) -> Option<&RegistryDate>| -> ArrayRef {
        Arc::new(
            records
                .iter()
                .map(|r| get(r).and_then(days_since_epoch))
                .collect::<Date32Array>(),
        )
    };
    let list = |get: fn(&Record) -> &[String]| -> ArrayRef {
        let mut builder = ListBuilder::new(StringBuilder::new());
        for record in records {
            for value in get(record) {
                builder.values().append_value(value);
            }
            builder.append(true);
        }
        Arc::new(builder.finish())
    };
    let batch = RecordBatch::try_from_iter([
        ("name", text(|r| r.name.as_deref())),
        ("port_low", port(|r| r.ports.map(|s| s.low))),
        ("port_high", port(|r| r.ports.map(|s| s.high))),
        (
            "transport",
            text(|r| r.transport.as_ref().map(|t| t.as_str())),
        ),
        ("description", text(|r| r.description.as_deref())),
        ("status", text(|r| Some(r.status.as_str()))),
        ("aliases", list(|r| &r.aliases)),
        ("assignees", list(|r| &r.assignees)),
        ("contacts", list(|r| &r.contacts)),
        ("registered", date(|r| r.registered.as_ref())),
        ("modified", date(|r| r.modified.as_ref())),
        ("references", references(records)),
        ("service_code", text(|r| r.service_code.as_deref())),
        ("unauthorized_use", text(|r| r.unauthorized_use.as_deref())),
        ("notes", text(|r| r.notes.as_deref())),
        ("range_class", text(|r| r.range_class().map(|c| c.as_str()))),
        ("source", text(|r| Some(r.source.as_str()))),
    ])?;
    let mut metadata = vec![KeyValue::new(
        "portreg.records".into(),
        records.len().to_string(),
    )];
    if let Some(updated) = &registry.meta.updated {
        metadata.push(KeyValue::new("portreg.updated".into(), updated.to_string()));
    }
    if let Some(title) = &registry.meta.title {
        metadata.push(KeyValue::new("portreg.title".into(), title.clone()));
    }
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(metadata))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(bytes)
}

/// `references`: a list of structs (`type`, `data`, `title`).
fn references(records: &[Record]) -> ArrayRef {
    let fields = Fields::from(vec![
        Field::new("type", DataType::Utf8, false),
        Field::new("data", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, true),
    ]);
    let mut builder = ListBuilder::new(StructBuilder::from_fields(fields, 0));
    for record in records {
        let entries = builder.values();
        for reference in &record.references {
            let columns = [
                Some(reference.kind.as_str()),
                Some(reference.data.as_str()),
                reference.title.as_deref(),
            ];
            for (index, value) in columns.into_iter().enumerate() {
                if let Some(column) = entries.field_builder::<StringBuilder>(index) {
                    column.append_option(value);
                }
            }
            entries.append(true);
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

/// Days from 1970-01-01 (Parquet's DATE) of `YYYY-MM-DD`, or `YYYY-MM` (its first day).
fn days_since_epoch(date: &RegistryDate) -> Option<i32> {
    let mut parts = date.as_str().split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next().map_or(Some(1), |d| d.parse().ok())?;
    // Howard Hinnant's days_from_civil.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    i32::try_from(era * 146_097 + day_of_era - 719_468).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_days_from_the_epoch() {
        let days = |text: &str| days_since_epoch(&text.parse().unwrap());
        assert_eq!(days("1970-01-01"), Some(0));
        assert_eq!(days("2000-03-01"), Some(11_017));
        assert_eq!(days("2026-08-17"), Some(20_682));
        assert_eq!(days("2005-08"), days("2005-08-01"));
    }

    #[test]
    fn failure_is_not_a_panic_on_an_empty_registry() {
        let bytes = to_parquet(&Registry::default()).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
    }
}

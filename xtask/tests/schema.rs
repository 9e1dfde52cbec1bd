//! The committed JSON Schema of the record is the one the record type generates, and every
//! record portreg writes from IANA's 2026 XML validates against it.

use portreg::format::{self, Format, ReadOptions};

#[test]
fn committed_schema_is_generated_from_the_record_type() {
    let committed = std::fs::read_to_string(xtask::schema_path()).unwrap();
    assert!(
        committed == xtask::record_schema(),
        "docs/record.schema.json has drifted: run `cargo xtask gen-schema`"
    );
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn every_record_of_the_2026_registry_validates() {
    let schema: serde_json::Value = serde_json::from_str(&xtask::record_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for file in [
        "data/iana/newest/service-names-port-numbers.xml",
        "data/iana/service-names-port-numbers.xml",
        "data/legacy/port-numbers",
        "data/nmap/nmap-services",
    ] {
        let Some(path) = portreg_testing::shared(file) else {
            return;
        };
        let bytes = std::fs::read(&path).unwrap();
        let format = Format::detect(&bytes).unwrap();
        let registry = format::read(&bytes, format, &ReadOptions::default())
            .unwrap()
            .registry;
        assert!(registry.records.len() > 10_000);
        for record in &registry.records {
            let value = format::record_to_json(record);
            if let Err(error) = validator.validate(&value) {
                panic!("{file}: {value} does not validate: {error}");
            }
        }
        // The schema can fail: a record without `source` does not validate.
        let mut broken = format::record_to_json(&registry.records[0]);
        broken.as_object_mut().unwrap().remove("source");
        assert!(validator.validate(&broken).is_err());
    }
}

//! `convert --to parquet|zeek|logstash` read back by the engines they are for: the
//! Parquet file by DuckDB (Python's `duckdb`, installed by `.ci/run`), joined against a
//! flow table, giving the names `portreg enrich` gives.

use std::path::Path;

use portreg_testing::{duckdb, run, shared_arg};

fn admin(args: &[&str]) -> portreg_testing::Run {
    run(env!("CARGO_BIN_EXE_portreg-admin"), args, None)
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn duckdb_reads_the_parquet_export_and_joins_flows_as_enrich_does() {
    let Some(xml) = shared_arg("data/iana/newest/service-names-port-numbers.xml") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("registry.parquet");
    let out = admin(&[
        "convert",
        &xml,
        "--to",
        "parquet",
        "-o",
        &parquet.display().to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let file = parquet.display().to_string();
    let Some(count) = duckdb(&format!("SELECT count(*) FROM '{file}'")) else {
        return;
    };
    assert_eq!(count[0][0], 14_533, "a row per record");

    let types = duckdb(&format!(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{file}')"
    ))
    .unwrap();
    let types: Vec<(String, String)> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let type_of = |name: &str| {
        types
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    };
    assert_eq!(type_of("port_low"), Some("INTEGER"));
    assert_eq!(type_of("port_high"), Some("INTEGER"));
    assert_eq!(type_of("name"), Some("VARCHAR"));
    assert_eq!(type_of("aliases"), Some("VARCHAR[]"));
    assert_eq!(type_of("registered"), Some("DATE"));
    assert_eq!(type_of("modified"), Some("DATE"));
    assert_eq!(
        type_of("references"),
        Some("STRUCT(\"type\" VARCHAR, \"data\" VARCHAR, title VARCHAR)[]")
    );
    let ssh = duckdb(&format!(
        "SELECT port_low, registered, \"references\"[1].data FROM '{file}' WHERE name = 'ssh' AND transport = 'tcp'"
    ))
    .unwrap();
    assert_eq!(ssh[0][0], 22);
    assert_eq!(ssh[0][2], "rfc4251");

    // A flow table joined against it in SQL, and the same flows through `portreg enrich`.
    let flows = dir.path().join("flows.csv");
    let mut csv = String::from("dst_port,proto\n");
    for (i, port) in [
        22u32, 53, 80, 443, 2049, 4200, 4250, 6010, 8443, 49999, 1, 4, 111,
    ]
    .iter()
    .enumerate()
    {
        let proto = ["tcp", "udp", "sctp"][i % 3];
        csv.push_str(&format!("{port},{proto}\n{port},tcp\n"));
    }
    std::fs::write(&flows, &csv).unwrap();
    let joined = duckdb(&format!(
        "WITH r AS (SELECT row_number() OVER () AS i, * FROM '{file}' \
                    WHERE name IS NOT NULL AND port_low IS NOT NULL), \
              f AS (SELECT row_number() OVER () AS n, * FROM read_csv('{}', header = true)) \
         SELECT f.n, arg_min(r.name, r.i) FROM f LEFT JOIN r \
           ON f.dst_port BETWEEN r.port_low AND r.port_high \
          AND (r.transport = f.proto OR (r.transport IS NULL AND f.proto IN ('tcp', 'udp'))) \
         GROUP BY f.n ORDER BY f.n",
        flows.display()
    ))
    .unwrap();
    let from_sql: Vec<String> = joined
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap_or("").to_owned())
        .collect();
    let enriched = admin(&[
        "enrich",
        "-q",
        "--registry",
        &xml,
        &flows.display().to_string(),
    ]);
    assert_eq!(enriched.code, 0, "{}", enriched.stderr);
    let from_enrich: Vec<String> = enriched
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(from_sql, from_enrich);
    assert!(from_sql.contains(&"vrml-multi-use".to_owned()));
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn zeek_and_logstash_tables() {
    let dir = tempfile::tempdir().unwrap();
    let zeek = dir.path().join("ports.zeek.tsv");
    let out = admin(&[
        "convert",
        "-",
        "--from",
        "services",
        "--to",
        "zeek",
        "-o",
        &zeek.display().to_string(),
    ]);
    // Nothing on standard input: an empty registry, an empty table with its header.
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::read_to_string(&zeek)
        .unwrap()
        .contains("#types\tport\tstring"));
    let Some(xml) = shared_arg("data/iana/newest/service-names-port-numbers.xml") else {
        return;
    };
    let table = admin(&["convert", &xml, "--to", "zeek"]).stdout;
    assert!(table.contains("\n22/tcp\tssh\t"));
    assert!(table.contains("\n4299/udp\tvrml-multi-use\t"));
    let dictionary = admin(&["convert", &xml, "--to", "logstash"]).stdout;
    assert!(dictionary.contains("\n\"22/tcp\": \"ssh\"\n"));
    assert!(Path::new(&xml).exists());
}

// The plain way: read lines, split on tabs, look "port/proto" up in a HashMap made from a
// services file, write the line with the name. bench/enrich.sh compiles it with rustc -O.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};

fn main() {
    let mut args = std::env::args().skip(1);
    let services = args.next().expect("services file");
    let log = args.next().expect("log");
    let mut names: HashMap<String, String> = HashMap::new();
    for line in std::fs::read_to_string(services).expect("services").lines() {
        let mut words = line.split('#').next().unwrap_or("").split_whitespace();
        if let (Some(name), Some(place)) = (words.next(), words.next()) {
            names.entry(place.to_owned()).or_insert_with(|| name.to_owned());
        }
    }
    let input = BufReader::new(std::fs::File::open(log).expect("log"));
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in input.lines() {
        let line = line.expect("line");
        if line.starts_with('#') {
            writeln!(out, "{line}").expect("write");
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let key = format!("{}/{}", fields.get(5).unwrap_or(&""), fields.get(6).unwrap_or(&""));
        let name = names.get(&key).map_or("-", String::as_str);
        writeln!(out, "{line}\t{name}").expect("write");
    }
}
